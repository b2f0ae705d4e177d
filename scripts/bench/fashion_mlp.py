# scripts/bench/fashion_mlp.py: the PyTorch peer of fashion_mlp.lua — one epoch of the
# 784-256-128-10 ReLU MLP, Adam lr 1e-3, batch 128, float32, cross-entropy.
#
#   /usr/bin/python3 fashion_mlp.py REPS THREADS   (THREADS 0: PyTorch's default)
#   -> threads n, epoch_s t1 t2 ..., data fashion|random
import gzip
import os
import sys
import time

import numpy as np
import torch

DIR = "/usr/share/datasets/fashion-mnist"


def load():
    try:
        with gzip.open(os.path.join(DIR, "train-images-idx3-ubyte.gz")) as f:
            X = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
        with gzip.open(os.path.join(DIR, "train-labels-idx1-ubyte.gz")) as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8)
        return torch.tensor(X, dtype=torch.float32) / 255, torch.tensor(y, dtype=torch.int64), "fashion"
    except OSError:
        return torch.rand(60000, 784), torch.randint(0, 10, (60000,)), "random"


def main():
    reps, threads = int(sys.argv[1]), int(sys.argv[2])
    if threads > 0:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    X, y, kind = load()
    n = X.shape[0]
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for rep in range(reps + 1):  # the first 50 steps of rep 0 are a warm-up
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for step, i in enumerate(range(0, n, 128)):
            if rep == 0 and step == 50:
                break
            idx = perm[i:i + 128]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
        if rep > 0:
            times.append(time.perf_counter() - t0)
    print("threads", torch.get_num_threads())
    print("epoch_s", *times)
    print("data", kind)
    print("loss", loss.item())


main()
