# bpfree: the two set-up commands of the README, and a few helpers.
#   make demo   installs what is missing, builds a release binary, trains a short BP run on
#               Fashion-MNIST and prints the summary.
#   make test   installs what is missing, runs the test suite, then each fuzz target for a short
#               time on its committed corpus (FUZZ_SECONDS=10; Scripts/fuzz.sh for long runs).
#   make bench  speed on this machine, side by side with PyTorch when it is installed
#               (REPS=3 THREADS=2 PYTHON=python3; FULL=1 adds a full CNN epoch).

APT_PACKAGES := libopenblas-dev libdnnl-dev zlib1g-dev libsqlite3-dev libpq-dev pkg-config python3-venv dataset-fashion-mnist
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build demo test bench info clean

deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing apt packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	swift build -c release

demo: build
	.build/release/bpfree train --algorithm bp --architecture mlp-2x1000 --dataset fashion-mnist \
		--epochs 3 --train-limit 12000 --seed 1 --output demo-run.json

test: deps
	swift test
	FUZZ_SEED=1 bash Scripts/fuzz.sh $(or $(FUZZ_SECONDS),10)

bench: build
	REPS=$(or $(REPS),3) THREADS=$(or $(THREADS),2) FULL=$(or $(FULL),0) bash Scripts/bench_speed.sh

info: build
	.build/release/bpfree info --kernels

clean:
	rm -rf .build demo-run.json
