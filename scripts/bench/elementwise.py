# scripts/bench/elementwise.py: the PyTorch peer of elementwise.lua — sin, add, where and
# sum(dim) on float32 tensors of 100, 10^4 and 10^6 elements, on 1 thread and on THREADS.
#
#   /usr/bin/python3 elementwise.py REPS THREADS
#   -> <op>_<n>_<t>: seconds per call, one value per repeat (each the mean of a loop of calls)
import sys
import time

import torch

reps, default = int(sys.argv[1]), int(sys.argv[2])
SIZES = [(10, 10), (100, 100), (1000, 1000)]


def cases(r, c):
    x, y = torch.randn(r, c), torch.randn(r, c)
    m = (torch.rand(r, c) < 0.5)        # PyTorch's where takes a bool mask
    return [("sin", lambda: torch.sin(x)), ("add", lambda: x + y),
            ("where", lambda: torch.where(m, x, y)), ("sum", lambda: x.sum(1))]


for threads in sorted({1, default}):
    torch.set_num_threads(threads)
    for r, c in SIZES:
        n = r * c
        loop = max(1, 2000000 // n)
        for name, f in cases(r, c):
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < 0.2:   # steady state, as common.lua's warm-up
                f()
            ts = []
            for _ in range(reps):
                t0 = time.perf_counter()
                for _ in range(loop):
                    f()
                ts.append((time.perf_counter() - t0) / loop)
            print("%s_%d_%d" % (name, n, threads), *ts)
