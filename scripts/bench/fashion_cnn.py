# scripts/bench/fashion_cnn.py: the PyTorch peer of fashion_cnn.lua — training steps of the
# two-convolution Fashion-MNIST net (conv 1→32 3×3 pad 1, ReLU, maxpool 2, conv 32→64, ReLU,
# maxpool 2, Linear 3136→128, ReLU, Linear 128→10), Adam lr 1e-3, batch 128, float32.
#
#   /usr/bin/python3 fashion_cnn.py REPS STEPS THREADS   (THREADS 0: PyTorch's default)
#   -> threads n, epoch_s t1 t2 ... (STEPS steps timed, scaled to an epoch of 469), peak_rss_kb k
import gzip
import math
import os
import resource
import sys
import time

import numpy as np
import torch

DIR = "/usr/share/datasets/fashion-mnist"
BATCH = 128


def load():
    try:
        with gzip.open(os.path.join(DIR, "train-images-idx3-ubyte.gz")) as f:
            X = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
        with gzip.open(os.path.join(DIR, "train-labels-idx1-ubyte.gz")) as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8)
        X = torch.tensor(X, dtype=torch.float32) / 255
        return (X - X.mean()) / X.std(), torch.tensor(y, dtype=torch.int64)
    except OSError:
        return torch.randn(60000, 1, 28, 28), torch.randint(0, 10, (60000,))


def main():
    reps, steps, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    if threads > 0:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    X, y = load()
    n = X.shape[0]
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    per_epoch = math.ceil(n / BATCH)
    times = []
    for rep in range(reps + 1):  # rep 0 is a warm-up
        perm = torch.randperm(n)
        t0 = time.perf_counter()
        for step in range(steps):
            idx = perm[step * BATCH:(step + 1) * BATCH]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
        if rep > 0:
            times.append((time.perf_counter() - t0) * per_epoch / steps)
    print("threads", torch.get_num_threads())
    print("epoch_s", *times)
    print("peak_rss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print("loss", loss.item())


main()
