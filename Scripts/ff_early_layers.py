#!/usr/bin/env python3
"""Forward-Forward's first training steps in PyTorch (a dev tool, never used by bpfree): how well the
goodness of the layers after the first ranks the true label early in training, against the goodness
of all layers. bpfree's FF predicts with layers >= 2 (as Hinton's code does) and, on a few thousand
training images, tests at or below chance for its first ~100 steps; this re-implementation of the
same settings shows the same, so it is a property of the rule, not of bpfree.

Settings (bpfree's FF defaults, loeweX's form): one-hot label (value 1) in the first 10 pixels,
every layer's input RMS-normalised (eps 1e-8 outside the root) and detached, ReLU, goodness
sum(h^2), BCE with logits (goodness - width) over B positives and B uniform wrong-label negatives,
peer normalisation 0.03 with momentum 0.9, AdamW lr 1e-3 wd 3e-4, batch 100; pixels in [0, 1].

  python3 Scripts/ff_early_layers.py --seed 1 --widths 500,500
  python3 Scripts/ff_early_layers.py --seed 1 --widths 2000,2000,2000,2000

Prints, after 5, 10, 20, 40, 80 and 120 steps on the first --train-limit training images, the
accuracy on the first --test-limit test images of goodness over layers >= 2 and over all layers.
"""
import argparse, gzip
import numpy as np
import torch

p = argparse.ArgumentParser()
p.add_argument("--seed", type=int, default=1)
p.add_argument("--widths", default="500,500")
p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
p.add_argument("--train-limit", type=int, default=4000)
p.add_argument("--test-limit", type=int, default=2000)
a = p.parse_args()
torch.manual_seed(a.seed)

def idx(path, limit):
    data = gzip.open(path).read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data[4 + 4 * dims:], dtype=np.uint8).reshape(shape)[:limit]

def images(name, limit): return torch.tensor(idx(f"{a.data_dir}/{name}-images-idx3-ubyte.gz", limit).reshape(-1, 784) / 255.0, dtype=torch.float32)
def labels(name, limit): return torch.tensor(idx(f"{a.data_dir}/{name}-labels-idx1-ubyte.gz", limit).astype(np.int64))
X, Y = images("train", a.train_limit), labels("train", a.train_limit)
Xt, Yt = images("t10k", a.test_limit), labels("t10k", a.test_limit)
widths = [784] + [int(w) for w in a.widths.split(",")]
layers = [torch.nn.Linear(i, o) for i, o in zip(widths, widths[1:])]
running = [torch.zeros(w) for w in widths[1:]]
optimizer = torch.optim.AdamW([q for layer in layers for q in layer.parameters()], lr=1e-3, weight_decay=3e-4)

def embed(x, y):
    x = x.clone()
    x[:, :10] = torch.nn.functional.one_hot(y, 10).float()
    return x

def normalise(z): return z / (torch.sqrt((z * z).mean(1, keepdim=True)) + 1e-8)

def accuracy(skip_first):
    with torch.no_grad():
        goodness = torch.zeros(len(Xt), 10)
        for c in range(10):
            z = embed(Xt, torch.full((len(Xt),), c))
            for i, layer in enumerate(layers):
                z = torch.relu(layer(normalise(z)))
                if i >= 1 or not skip_first: goodness[:, c] += (z * z).sum(1)
        return (goodness.argmax(1) == Yt).float().mean().item() * 100

batch, step = 100, 0
while step < 120:
    order = torch.randperm(len(X))
    for s in range(len(X) // batch):
        i = order[s * batch:(s + 1) * batch]
        x, y = X[i], Y[i]
        wrong = (y + torch.randint(1, 10, y.shape)) % 10
        z, target = torch.cat([embed(x, y), embed(x, wrong)]), torch.cat([torch.ones(batch), torch.zeros(batch)])
        loss = 0
        for k, layer in enumerate(layers):
            z = torch.relu(layer(normalise(z)))
            loss = loss + torch.nn.functional.binary_cross_entropy_with_logits((z * z).sum(1) - z.shape[1], target)
            running[k] = running[k].detach() * 0.9 + z[:batch].mean(0) * 0.1
            loss = loss + 0.03 * ((running[k].mean() - running[k]) ** 2).mean()
            z = z.detach()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step in (5, 10, 20, 40, 80, 120):
            print(f"step {step}: loss {loss.item():.3f}, accuracy by goodness of layers >= 2 {accuracy(True):.2f} %, of all layers {accuracy(False):.2f} %")
        if step == 120: break
