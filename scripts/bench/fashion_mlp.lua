-- scripts/bench/fashion_mlp.lua: one epoch of the 784-256-128-10 ReLU MLP (Adam lr 1e-3, batch 128,
-- float32, cross-entropy), Lunet's lunet.nn/optim hand loop against PyTorch with one thread and
-- with its default threads, and the fraction of the sgemm limit Lunet reaches.
--
--   lunet scripts/bench/fashion_mlp.lua [--quick]
--
-- The sgemm limit: an epoch's FLOPs (forward 2·N·(784·256 + 256·128 + 128·10), backward twice that)
-- divided by the GFLOP/s lunet.matmul reaches in this run at the same shapes (the three forward
-- products, and the dX and dW products of backward). Fashion-MNIST when dataset-fashion-mnist is
-- installed, random data of the same shape otherwise.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local lunet = require "lunet"
local nn, optim, data = lunet.nn, lunet.optim, lunet.data

B.header("fashion_mlp")
local REPS = B.reps(3, 1)
local BATCH = 128

lunet.manual_seed(0)
local ok, X, y = pcall(data.load_fashion_mnist, "train")
local kind = "fashion"
if not ok then
  print("Fashion-MNIST not installed (" .. tostring(X):match("[^\n]*") .. "): random data")
  X, y, kind = lunet.rand(60000, 784), lunet.randint(0, 10, {60000}), "random"
end
local N = X:size(1)
local target = y + 1
print(("data: %s, %d×%d"):format(kind, N, X:size(2)))

local model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                            nn.Linear(128, 10))
local opt = optim.Adam(model:parameters(), {lr = 1e-3})
local function epoch(seed, max_steps)
  local loss, steps = nil, 0
  for xb, yb in data.batches(X, target, {batch_size = BATCH, shuffle = true, random_state = seed}) do
    opt:zero_grad()
    loss = nn.cross_entropy(model(xb), yb)
    loss:backward()
    opt:step()
    steps = steps + 1
    if steps == max_steps then break end
  end
  return loss:item()
end
epoch(0, 50)  -- warm-up, as the peer does
local seed = 0
local lunet_ts = B.time(function() seed = seed + 1; return epoch(seed) end, REPS)
print(("Lunet epoch: %s"):format(B.minmed(lunet_ts)))

-- sgemm at the epoch's shapes ------------------------------------------------------------------
local dims = {784, 256, 128, 10}
local shapes = {}                               -- {M, K, N}: A[M,K] @ B[K,N]
for l = 1, 3 do
  local i, o = dims[l], dims[l + 1]
  shapes[#shapes + 1] = {BATCH, i, o}           -- forward  Y = X W^T
  shapes[#shapes + 1] = {o, BATCH, i}           -- backward dW = dY^T X
  shapes[#shapes + 1] = {BATCH, o, i}           -- backward dX = dY W
end
local gflops = B.sgemm_rate(shapes, B.reps(400, 100), B.reps(5, 2))
local fwd = 2 * N * (784 * 256 + 256 * 128 + 128 * 10)
local epoch_flops = 3 * fwd
local limit = epoch_flops / (gflops * 1e9)
local lunet_min = B.stats(lunet_ts)
print(("sgemm at these shapes: %.1f GFLOP/s; epoch %.3g GFLOP -> limit %s; Lunet reaches %.0f%%"):format(
  gflops, epoch_flops / 1e9, B.fmt_time(limit), 100 * limit / lunet_min))
B.emit("fashion epoch sgemm limit", ("%.0f%% of limit"):format(100 * limit / lunet_min),
       ("sgemm %.1f GFLOP/s"):format(gflops), "-", ">= 70%")

-- PyTorch --------------------------------------------------------------------------------------
if B.has_python("torch") then
  for _, threads in ipairs{1, 0} do
    local r = B.run_python("fashion_mlp.py", {REPS, threads})
    local name = threads == 1 and "torch-1t" or ("torch-%dt"):format(r.threads[1])
    B.compare(("fashion epoch (%s)"):format(threads == 1 and "1 thread" or "torch default"),
              lunet_ts, r.epoch_s, name, ">= 2× tuned, >= 1.2× default")
  end
else
  B.skip("fashion epoch (1 thread)", "torch", "python3-torch", B.fmt_time(lunet_min))
end
