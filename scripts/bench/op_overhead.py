# scripts/bench/op_overhead.py: the PyTorch peer of op_overhead.lua — the cost of one call.
#
#   /usr/bin/python3 op_overhead.py REPS N_ADD N_LINEAR
#   -> add_ns (ns per a + b on two 1-element float32 tensors, one value per repeat),
#      linear_ns (ns per Linear(64, 64) forward on a 1×64 input, parameters requiring grad)
import sys
import time

import torch

torch.set_num_threads(1)
reps, n_add, n_lin = (int(a) for a in sys.argv[1:4])
a, b = torch.ones(1), torch.ones(1)
lin, x = torch.nn.Linear(64, 64), torch.randn(1, 64)


def add_loop(n):
    for _ in range(n):
        c = a + b


def lin_loop(n):
    for _ in range(n):
        y = lin(x)


add_loop(n_add // 10)
lin_loop(n_lin // 10)
add_ns, lin_ns = [], []
for _ in range(reps):
    t0 = time.perf_counter()
    add_loop(n_add)
    add_ns.append((time.perf_counter() - t0) / n_add * 1e9)
    t0 = time.perf_counter()
    lin_loop(n_lin)
    lin_ns.append((time.perf_counter() - t0) / n_lin * 1e9)
print("add_ns", *add_ns)
print("linear_ns", *lin_ns)
