#!/usr/bin/env bash
# Starts Debian's PostgreSQL 15 for the store's PostgreSQL tests (as root, without systemd),
# installing it if missing, and makes a role and a database for them. Prints the URL to use as
# BPFREE_TEST_POSTGRES. Used by .ci/run; harmless to run again.
set -euo pipefail
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
if ! command -v pg_ctlcluster >/dev/null || ! dpkg -s postgresql-15 >/dev/null 2>&1; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql-15 >&2
fi
if ! pg_lsclusters -h | grep -q '^15 *main'; then $SUDO pg_createcluster 15 main >&2; fi
# Workers in their own network namespaces (the fault tests) reach the server over veth
# addresses in 10.200.0.0/16: listen there too, with password authentication.
conf=/etc/postgresql/15/main
changed=""
if ! grep -q "^listen_addresses = '\*'" $conf/postgresql.conf; then
  echo "listen_addresses = '*'" | $SUDO tee -a $conf/postgresql.conf >/dev/null; changed=1
fi
if ! grep -q '10.200.0.0/16' $conf/pg_hba.conf; then
  echo "host all all 10.200.0.0/16 scram-sha-256" | $SUDO tee -a $conf/pg_hba.conf >/dev/null; changed=1
fi
# pg_ctl waits 60 s by default; crash recovery of a large data directory on a busy machine
# (a machine restarted mid-test) takes longer.
if pg_lsclusters -h | grep -q '^15 *main .*online'; then
  [ -z "$changed" ] || $SUDO pg_ctlcluster 15 main restart -- -t 600 >&2
else
  $SUDO pg_ctlcluster 15 main start -- -t 600 >&2
fi
# Waits for the server on port $1, then makes the test role and database there if missing.
prepare() {
  for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p "$1" && break; sleep 0.2; done
  local psql="psql -p $1 -qtAX -c"
  [ "$($SUDO su postgres -c "$psql \"SELECT 1 FROM pg_roles WHERE rolname = 'bpfree_test'\"")" = 1 ] \
    || $SUDO su postgres -c "$psql \"CREATE ROLE bpfree_test LOGIN PASSWORD 'bpfree_test'\"" >&2
  [ "$($SUDO su postgres -c "$psql \"SELECT 1 FROM pg_database WHERE datname = 'bpfree_test'\"")" = 1 ] \
    || $SUDO su postgres -c "createdb -p $1 -O bpfree_test bpfree_test" >&2
}
prepare 5432
# A second cluster on port 5433 for the fault tests, which restart their server mid-study
# without disturbing the tests that share the first (FAULTS=1; prints its URL on a second line).
if [ "${FAULTS:-0}" = 1 ]; then
  if ! pg_lsclusters -h | grep -q '^15 *faults'; then
    $SUDO pg_createcluster 15 faults --port 5433 >&2
    echo "listen_addresses = '*'" | $SUDO tee -a /etc/postgresql/15/faults/postgresql.conf >/dev/null
    echo "host all all 10.200.0.0/16 scram-sha-256" | $SUDO tee -a /etc/postgresql/15/faults/pg_hba.conf >/dev/null
  fi
  pg_lsclusters -h | grep -q '^15 *faults .*online' || $SUDO pg_ctlcluster 15 faults start -- -t 600 >&2
  prepare 5433
fi
echo "postgresql://bpfree_test:bpfree_test@127.0.0.1:5432/bpfree_test"
[ "${FAULTS:-0}" = 1 ] && echo "postgresql://bpfree_test:bpfree_test@127.0.0.1:5433/bpfree_test"
exit 0
