#!/usr/bin/env python3
"""PyTorch CPU (or, with --device cuda, eager CUDA) training throughput of bpfree's speed comparisons (a dev and `make bench` tool,
never used by bpfree): the same model, optimizer, batch size and data, one epoch over the first
--train-limit training samples, validation excluded. Prints one line:

  pytorch <model> <samples> samples in <s> s: <rate> samples/s training only (torch <version>, <threads> threads)

  python3 Scripts/pytorch_speed.py --model bp-mlp --widths 2000,2000,2000 --train-limit 12000
  python3 Scripts/pytorch_speed.py --model mf-mlp --widths 2000,2000,2000 --train-limit 12000
  python3 Scripts/pytorch_speed.py --model bp-cnn --channels 32,128,512 --train-limit 6016
  python3 Scripts/pytorch_speed.py --model ff-mlp --widths 2000,2000,2000,2000 --batch-size 100

Models: bp-mlp (Linear+ReLU layers, AdamW 2e-4 / 3e-5), mf-mlp (Mono-Forward, concurrent: each
layer's input detached, its own projection M_i to the classes and local cross-entropy, Adam
3.873e-4), bp-cnn (bpfree's cnn: Conv3x3 pad 1 no bias → ReLU → MaxPool 2 → BatchNorm per
block, then Linear to the classes; AdamW), ff-mlp (Forward-Forward as bpfree's defaults: each batch's
positives with their label and negatives with a uniform wrong label in the first 10 pixels,
every layer's input RMS-normalised and detached, goodness Σh², loss softplus(θ − g⁺) +
softplus(g⁻ − θ) with θ the width, peer normalisation 0.03, AdamW 1e-3 / 3e-4). Reads Debian's Fashion-MNIST or --data-dir.
"""
import argparse, gzip, time
import numpy as np
import torch

p = argparse.ArgumentParser()
p.add_argument("--model", choices=["bp-mlp", "mf-mlp", "bp-cnn", "ff-mlp"], required=True)
p.add_argument("--widths", default="2000,2000,2000")
p.add_argument("--channels", default="32,128,512")
p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
p.add_argument("--batch-size", type=int, default=128)
p.add_argument("--train-limit", type=int, default=12000)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=1)
p.add_argument("--device", default="cpu", help="cpu, or cuda: data and model on the card, timed after a synchronisation")
p.add_argument("--warmup-batches", type=int, default=3, help="untimed batches first (allocator and oneDNN set-up)")
p.add_argument("--math", choices=["fp32", "tf32"], default="fp32",
               help="on CUDA: FP32 everywhere (bpfree's default), or TF32 in matmuls and convolutions (bpfree's --gpu-math tf32)")
a = p.parse_args()
# PyTorch's own defaults differ by operation (matmuls FP32, cuDNN convolutions TF32): set both, so
# that the peer computes at the precision bpfree does; cuDNN may pick its fastest algorithm.
torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = a.math == "tf32"
torch.backends.cudnn.benchmark = True
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)

with gzip.open(f"{a.data_dir}/train-images-idx3-ubyte.gz") as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[: a.train_limit]
with gzip.open(f"{a.data_dir}/train-labels-idx1-ubyte.gz") as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8)[: a.train_limit].astype(np.int64)
X = torch.from_numpy((x.astype(np.float32) / 255 - 0.2860) / 0.3530)
Y = torch.from_numpy(y)
if a.model != "bp-cnn":
    X = X.reshape(len(X), -1)
device = torch.device(a.device)
X, Y = X.to(device), Y.to(device)
def synchronize():
    if device.type == "cuda":
        torch.cuda.synchronize()
ce = torch.nn.CrossEntropyLoss()

if a.model == "bp-mlp":
    widths = [784] + [int(w) for w in a.widths.split(",")]
    layers = []
    for i in range(len(widths) - 1):
        layers += [torch.nn.Linear(widths[i], widths[i + 1]), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(widths[-1], 10)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=3e-5)
    def step(xb, yb):
        opt.zero_grad(set_to_none=False)
        ce(model(xb), yb).backward()
        opt.step()
elif a.model == "mf-mlp":
    widths = [784] + [int(w) for w in a.widths.split(",")]
    layers = [torch.nn.Linear(widths[i], widths[i + 1]).to(device) for i in range(len(widths) - 1)]
    projections = [torch.nn.Linear(w, 10, bias=False).to(device) for w in widths[1:]]
    params = [q for m in layers + projections for q in m.parameters()]
    opt = torch.optim.Adam(params, lr=3.873e-4)
    def step(xb, yb):
        opt.zero_grad(set_to_none=False)
        h, total = xb, 0
        for layer, projection in zip(layers, projections):
            h = torch.relu(layer(h.detach()))
            total = total + ce(projection(h), yb)
        total.backward()
        opt.step()
elif a.model == "ff-mlp":
    widths = [784] + [int(w) for w in a.widths.split(",")]
    layers = [torch.nn.Linear(widths[i], widths[i + 1]).to(device) for i in range(len(widths) - 1)]
    running = [torch.full((w,), 0.5, device=device) for w in widths[1:]]
    opt = torch.optim.AdamW([q for m in layers for q in m.parameters()], lr=1e-3, weight_decay=3e-4)
    softplus = torch.nn.functional.softplus
    def step(xb, yb):
        n = len(yb)
        wrong = (yb + torch.randint(1, 10, (n,), device=device)) % 10
        h = xb.repeat(2, 1)
        h[:, :10] = 0
        h[torch.arange(2 * n, device=device), torch.cat([yb, wrong])] = 1.0
        opt.zero_grad(set_to_none=False)
        for layer, mean in zip(layers, running):
            x = h.detach()
            x = x / (x.pow(2).mean(1, keepdim=True) + 1e-8).sqrt()
            h = torch.relu(layer(x))
            g = h.pow(2).sum(1)
            theta = h.shape[1]
            loss = (softplus(theta - g[:n]) + softplus(g[n:] - theta)).mean()
            # Peer normalisation: the positives' running mean activity pulled towards its own mean.
            blended = 0.9 * mean + 0.1 * h[:n].mean(0)
            loss = loss + 0.03 * (blended - blended.mean()).pow(2).mean()
            mean.copy_(blended.detach())
            loss.backward()
        opt.step()
else:
    channels = [1] + [int(c) for c in a.channels.split(",")]
    blocks, side = [], 28
    for i in range(len(channels) - 1):
        blocks += [torch.nn.Conv2d(channels[i], channels[i + 1], 3, padding=1, bias=False), torch.nn.ReLU(),
                   torch.nn.MaxPool2d(2), torch.nn.BatchNorm2d(channels[i + 1])]
        side //= 2
    model = torch.nn.Sequential(*blocks, torch.nn.Flatten(), torch.nn.Linear(channels[-1] * side * side, 10)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=3e-5)
    def step(xb, yb):
        opt.zero_grad(set_to_none=False)
        ce(model(xb), yb).backward()
        opt.step()

order = torch.randperm(len(X), generator=torch.Generator().manual_seed(a.seed)).to(device)
batches = len(X) // a.batch_size
for b in range(min(a.warmup_batches, batches)):
    i = order[b * a.batch_size:(b + 1) * a.batch_size]
    step(X[i], Y[i])
synchronize()
start = time.perf_counter()
for b in range(batches):
    i = order[b * a.batch_size:(b + 1) * a.batch_size]
    step(X[i], Y[i])
synchronize()
seconds = time.perf_counter() - start
samples = batches * a.batch_size
print(f"pytorch {a.model} {samples} samples in {seconds:.2f} s: {samples / seconds:.1f} samples/s training only "
      f"(torch {torch.__version__}, {f'{a.device}, {a.math}' if device.type == 'cuda' else f'{a.threads} threads'})")
