# scripts/bench/einsum.py: the PyTorch peer of einsum.lua — torch.einsum on attention's two
# products (b = h = 8, q = k = 128, d = 64, float32) on 1 thread and on THREADS.
#
#   /usr/bin/python3 einsum.py REPS THREADS
#   -> scores_<t> and context_<t>: seconds per call, one value per repeat, for t = 1 and THREADS
import sys
import time

import torch

reps, default = int(sys.argv[1]), int(sys.argv[2])
B, H, Q, D = 8, 8, 128, 64
cases = [("scores", "bhqd,bhkd->bhqk", (B, H, Q, D), (B, H, Q, D)),
         ("context", "bhqk,bhkd->bhqd", (B, H, Q, Q), (B, H, Q, D))]
for threads in sorted({1, default}):
    torch.set_num_threads(threads)
    for name, eq, sa, sb in cases:
        a, b = torch.randn(*sa), torch.randn(*sb)
        for _ in range(3):
            torch.einsum(eq, a, b)
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 0.3:     # steady state, as common.lua's warm-up
            torch.einsum(eq, a, b)
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            torch.einsum(eq, a, b)
            ts.append(time.perf_counter() - t0)
        print("%s_%d" % (name, threads), *ts)
