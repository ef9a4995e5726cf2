#!/usr/bin/env python3
"""PyTorch reference for bpfree's BP baseline: the same MLP, data, split sizes, optimizer and
stopping rule, for side-by-side accuracy and speed checks (a dev tool, not used by bpfree).

  python3 Scripts/pytorch_reference_mlp.py --widths 2000,2000,2000 --epochs 1 --train-limit 12000 --threads 2
  python3 Scripts/pytorch_reference_mlp.py --widths 1000,1000 --epochs 20 --patience 20

Reads Debian's Fashion-MNIST (/usr/share/datasets/fashion-mnist) or --data-dir.
"""
import argparse, gzip, time
import numpy as np
import torch

p = argparse.ArgumentParser()
p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
p.add_argument("--widths", default="1000,1000")
p.add_argument("--epochs", type=int, default=20)
p.add_argument("--patience", type=int, default=20)
p.add_argument("--lr", type=float, default=2e-4)
p.add_argument("--wd", type=float, default=3e-5)
p.add_argument("--batch-size", type=int, default=128)
p.add_argument("--train-limit", type=int)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=1)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)

def idx(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)

d = a.data_dir
x = idx(f"{d}/train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32)
y = idx(f"{d}/train-labels-idx1-ubyte.gz", 8).astype(np.int64)
xt = idx(f"{d}/t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32)
yt = idx(f"{d}/t10k-labels-idx1-ubyte.gz", 8).astype(np.int64)
norm = lambda v: torch.from_numpy((v / 255 - 0.2860) / 0.3530)
perm = np.random.default_rng(a.seed).permutation(len(x))
val, train = perm[:6000], np.sort(perm[6000:])
if a.train_limit: train = train[:a.train_limit]
X, Y = norm(x[train]), torch.from_numpy(y[train])
XV, YV = norm(x[val]), torch.from_numpy(y[val])
XT, YT = norm(xt), torch.from_numpy(yt)

widths = [784] + [int(w) for w in a.widths.split(",")]
layers = []
for i in range(len(widths) - 1):
    layers += [torch.nn.Linear(widths[i], widths[i + 1]), torch.nn.ReLU()]
model = torch.nn.Sequential(*layers, torch.nn.Linear(widths[-1], 10))
opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.wd)
lossf = torch.nn.CrossEntropyLoss()

def evaluate(xs, ys):
    with torch.no_grad():
        z = model(xs)
        return lossf(z, ys).item(), (z.argmax(1) == ys).float().mean().item()

best, best_state, since = float("inf"), None, 0
g = torch.Generator().manual_seed(a.seed)
window = time.perf_counter()
samples = 0
for epoch in range(1, a.epochs + 1):
    t0 = time.perf_counter()
    order = torch.randperm(len(X), generator=g)
    n = len(X) // a.batch_size
    for b in range(n):
        i = order[b * a.batch_size:(b + 1) * a.batch_size]
        opt.zero_grad(set_to_none=False)
        loss = lossf(model(X[i]), Y[i])
        loss.backward()
        opt.step()
        samples += len(i)
    train_seconds = time.perf_counter() - t0
    vl, va = evaluate(XV, YV)
    print(f"epoch {epoch} val loss {vl:.4f} val acc {va:.4f} train {train_seconds:.2f}s "
          f"({n * a.batch_size / train_seconds:.0f} samples/s training only)", flush=True)
    if vl < best:
        best, since = vl, 0
        best_state = {k: v.clone() for k, v in model.state_dict().items()}
    else:
        since += 1
        if since >= a.patience: break
elapsed = time.perf_counter() - window
model.load_state_dict(best_state)
print(f"test accuracy {evaluate(XT, YT)[1]:.4f}; window {elapsed:.1f}s, {samples / elapsed:.0f} samples/s incl. validation")
