#!/usr/bin/env python3
"""PyTorch reference for bpfree's BP baseline: the same MLP, data, split sizes, optimizer and
stopping rule, for side-by-side accuracy and speed checks (a dev tool, not used by bpfree).

  python3 Scripts/pytorch_reference_mlp.py --widths 2000,2000,2000 --epochs 1 --train-limit 12000 --threads 2
  python3 Scripts/pytorch_reference_mlp.py --widths 1000,1000 --epochs 20 --patience 20
  python3 Scripts/pytorch_reference_mlp.py --widths 1000,1000 --epochs 20 --bpfree-streams

--bpfree-streams draws the validation split, the initial weights and every epoch's batch order
from bpfree's own generator streams for --seed (a port of Randomness/SeededGenerator), so the
run starts from exactly the state `bpfree train --seed N` starts from and sees the same batches.

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
p.add_argument("--bpfree-streams", action="store_true")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)

M64 = (1 << 64) - 1

class SeededGenerator:
    """bpfree's SeededGenerator: xoshiro256** seeded through SplitMix64, named sub-streams."""
    def __init__(self, seed, stream):
        h = 0xCBF29CE484222325
        for byte in stream.encode():
            h = ((h ^ byte) * 0x100000001B3) & M64
        x = seed ^ h
        state = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            state.append(z ^ (z >> 31))
        self.s = state

    def next(self):
        s0, s1, s2, s3 = self.s
        r = (s1 * 5) & M64
        result = (((r << 7) | (r >> 57)) & M64) * 9 & M64
        t = (s1 << 17) & M64
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) | (s3 >> 19)) & M64
        self.s = [s0, s1, s2, s3]
        return result

    def next_int(self, bound):  # Lemire's unbiased multiply-shift
        product = self.next() * bound
        if product & M64 < bound:
            threshold = (-bound % (1 << 64)) % bound
            while product & M64 < threshold:
                product = self.next() * bound
        return product >> 64

    def shuffle(self, values):  # Fisher-Yates, in place
        for i in range(len(values) - 1, 0, -1):
            j = self.next_int(i + 1)
            values[i], values[j] = values[j], values[i]

    def uniform(self, count, low, high):  # Float32 low + width * (24 random bits / 2^24)
        bits = np.array([self.next() >> 40 for _ in range(count)], dtype=np.float32)
        return np.float32(low) + np.float32(high - low) * (bits * np.float32(2.0 ** -24))

def idx(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)

d = a.data_dir
x = idx(f"{d}/train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32)
y = idx(f"{d}/train-labels-idx1-ubyte.gz", 8).astype(np.int64)
xt = idx(f"{d}/t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32)
yt = idx(f"{d}/t10k-labels-idx1-ubyte.gz", 8).astype(np.int64)
norm = lambda v: torch.from_numpy((v / 255 - 0.2860) / 0.3530)
if a.bpfree_streams:
    perm = list(range(len(x)))
    SeededGenerator(a.seed, "validation-split").shuffle(perm)
    perm = np.array(perm)
    val, train = np.sort(perm[:6000]), np.sort(perm[6000:])
else:
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
if a.bpfree_streams:
    weights = SeededGenerator(a.seed, "weights")
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, torch.nn.Linear):
                bound = np.float32(1) / np.sqrt(np.float32(layer.in_features))
                for tensor in (layer.weight, layer.bias):
                    tensor.copy_(torch.from_numpy(weights.uniform(tensor.numel(), -bound, bound)).view_as(tensor))
opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.wd)
lossf = torch.nn.CrossEntropyLoss()

def evaluate(xs, ys):
    with torch.no_grad():
        z = model(xs)
        return lossf(z, ys).item(), (z.argmax(1) == ys).float().mean().item()

best, best_state, since = float("inf"), None, 0
if a.bpfree_streams:
    shuffler, order = SeededGenerator(a.seed, "shuffle"), list(range(len(X)))
    def next_order():  # bpfree reshuffles the previous epoch's order
        shuffler.shuffle(order)
        return torch.tensor(order)
else:
    g = torch.Generator().manual_seed(a.seed)
    next_order = lambda: torch.randperm(len(X), generator=g)
window = time.perf_counter()
samples = 0
for epoch in range(1, a.epochs + 1):
    order_t = next_order()  # drawn outside the timed part: the Python port is slow
    t0 = time.perf_counter()
    n = len(X) // a.batch_size
    loss_sum = 0.0
    for b in range(n):
        i = order_t[b * a.batch_size:(b + 1) * a.batch_size]
        opt.zero_grad(set_to_none=False)
        loss = lossf(model(X[i]), Y[i])
        loss.backward()
        opt.step()
        loss_sum += loss.item()
        samples += len(i)
    train_seconds = time.perf_counter() - t0
    vl, va = evaluate(XV, YV)
    print(f"epoch {epoch} train loss {loss_sum / n:.4f} val loss {vl:.4f} val acc {va:.4f} train {train_seconds:.2f}s "
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
