"""Loads a model saved by `bpfree train --save-model` into PyTorch with the `safetensors`
package, rebuilds the network from the file's metadata alone in a few lines of PyTorch, and
prints its accuracy on the test split of the IDX dataset in DATA_DIR as JSON.

    python Scripts/safetensors_check.py MODEL.safetensors DATA_DIR

Covers the networks whose inference is a plain forward pass: BP (and the rules that share its
network: fa, sign, drtp, pepita, fg, pc, shallow, dfa) on MLPs and CNNs, and Mono-Forward's
MLPs and CNNs (inference `last` or `sum`).
"""
import gzip
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main(model_path, data_dir):
    with safe_open(model_path, framework="pt") as f:
        meta = f.metadata()
    w = load_file(model_path)
    hyper = json.loads(meta["hyperparameters"])
    norm = json.loads(meta["normalization"])
    shape = json.loads(meta["input_shape"])
    images = idx(f"{data_dir}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255
    labels = torch.from_numpy(idx(f"{data_dir}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    x = (torch.from_numpy(images).reshape([-1] + shape) - norm["mean"][0]) / norm["std"][0]

    def blocks(h):
        """Conv3x3 (no bias) → ReLU → MaxPool 2×2 → BatchNorm, per block; the maps after each."""
        maps, b = [], 1
        while f"block{b}.conv.weight" in w:
            h = F.max_pool2d(F.relu(F.conv2d(h, w[f"block{b}.conv.weight"], padding=1)), 2)
            h = F.batch_norm(h, w[f"block{b}.bn.running_mean"], w[f"block{b}.bn.running_var"],
                             w[f"block{b}.bn.weight"], w[f"block{b}.bn.bias"], eps=float(hyper.get("bn_epsilon", 1e-5)))
            maps.append(h)
            b += 1
        return maps

    def dense(h, names):
        """Linear → ReLU for each name."""
        out = []
        for name in names:
            h = F.relu(F.linear(h, w[f"{name}.weight"], w.get(f"{name}.bias")))
            out.append(h)
        return out

    with torch.no_grad():
        convolutional = "block1.conv.weight" in w
        if meta["algorithm"] == "mf":
            if convolutional:
                activities = [m.flatten(1) for m in blocks(x)]
                names = [f"block{i + 1}" for i in range(len(activities))]
            else:
                names = sorted({k.split(".")[0] for k in w if k.startswith("layer")}, key=lambda n: int(n[5:]))
                activities = dense(x.flatten(1), names)
            scores = [F.linear(a, w[f"{n}.projection.weight"]) for a, n in zip(activities, names)]
            logits = scores[-1] if hyper["inference"] == "last" else sum(scores)
        else:
            if convolutional:
                features = blocks(x)[-1].flatten(1)
            else:
                names = sorted({k.split(".")[0] for k in w if k.startswith("layer")}, key=lambda n: int(n[5:]))
                features = dense(x.flatten(1), names)[-1] if names else x.flatten(1)
            logits = F.linear(features, w["output.weight"], w.get("output.bias"))
        correct = int((logits.argmax(1) == labels).sum())
    print(json.dumps({"correct": correct, "count": len(labels), "accuracy": correct / len(labels),
                      "saved_accuracy": float(meta.get("test_accuracy", "nan"))}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
