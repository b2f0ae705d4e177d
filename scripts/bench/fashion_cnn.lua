-- scripts/bench/fashion_cnn.lua: training steps of scripts/fashion_cnn.lua's network (conv 1→32
-- 3×3 pad 1, ReLU, maxpool 2, conv 32→64, ReLU, maxpool 2, Linear 3136→128, ReLU, Linear 128→10;
-- Adam lr 1e-3, batch 128, float32), Lunet against PyTorch with one thread and with its default
-- threads, per epoch (STEPS steps timed, scaled to the epoch's 469), the share of the sgemm limit
-- Lunet reaches, and both processes' peak resident memory.
--
--   lunet scripts/bench/fashion_cnn.lua [--quick]
--
-- The sgemm limit: the epoch's FLOPs (the products of forward, of the weight gradients and of the
-- input gradients but the first layer's, which nothing needs) over the rate lunet.matmul reaches in
-- this run at the same products, shaped as a step runs them (the convolutions' per image, the
-- Linear layers' whole), on one thread with the operands in cache, times the thread count: the
-- time the products alone would take on these cores.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local lunet = require "lunet"
local nn, optim, data = lunet.nn, lunet.optim, lunet.data

B.header("fashion_cnn")
local REPS, STEPS, BATCH = B.reps(3, 1), B.reps(60, 15), 128

lunet.manual_seed(0)
local ok, X, y = pcall(data.load_fashion_mnist, "train")
if not ok then
  print("Fashion-MNIST not installed (" .. tostring(X):match("[^\n]*") .. "): random data")
  X, y = lunet.rand(60000, 784), lunet.randint(0, 10, {60000})
end
local mean, std = X:mean():item(), X:std():item()
X = ((X - mean) / std):view(-1, 1, 28, 28)
local target, N = y + 1, X:size(1)
local per_epoch = math.ceil(N / BATCH)

local model = nn.Sequential(nn.Conv2d(1, 32, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(32, 64, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
local opt = optim.Adam(model:parameters(), {lr = 1e-3})
local seed = 0
local function steps(n)              -- n steps over a fresh shuffle; seconds scaled to an epoch
  seed = seed + 1
  local k, t0 = 0, lunet.clock()
  for xb, yb in data.batches(X, target, {batch_size = BATCH, shuffle = true, random_state = seed}) do
    opt:zero_grad()
    nn.cross_entropy(model(xb), yb):backward()
    opt:step()
    k = k + 1
    if k == n then break end
  end
  return (lunet.clock() - t0) * per_epoch / n
end
-- peak resident memory of this process (VmHWM), beside the peer's
local function peak_kb()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local kb = f:read("a"):match("VmHWM:%s*(%d+)")
  f:close()
  return tonumber(kb)
end

steps(10)                            -- warm-up, as the peer's first round
local lunet_ts = {}
for i = 1, REPS do lunet_ts[i] = steps(STEPS) end
local mine = peak_kb()               -- (before the sgemm measurement's own matrices)
print(("timing: %d steps of the epoch's %d, scaled to the epoch (both sides), best of %d"):format(
  STEPS, per_epoch, REPS))
print(("Lunet epoch: %s"):format(B.minmed(lunet_ts)))

-- sgemm at the epoch's products, shaped as a step runs them: the convolutions' per image (a step
-- runs BATCH of each, in lanes, each on one thread), the Linear layers' whole over the batch.
-- Each timed on one thread with its operands in cache, the rate times the threads: what the
-- cores could do if they did nothing but these products. {M, K, N, per_image}: A[M,K] @ B[K,N].
local P1, P2 = 28 * 28, 14 * 14                        -- output positions of the two convolutions
local shapes = {
  {32, 9, P1, true}, {32, P1, 9, true},                -- conv1: forward, dW (no dX: the input's)
  {64, 288, P2, true}, {64, P2, 288, true}, {288, 64, P2, true},   -- conv2: forward, dW, dX
  {BATCH, 3136, 128}, {128, BATCH, 3136}, {BATCH, 128, 3136},
  {BATCH, 128, 10}, {10, BATCH, 128}, {BATCH, 10, 128},
}
local function sgemm_rate(reps)
  local threads, secs, flops = lunet.get_num_threads(), 0, 0
  lunet.set_num_threads(1)
  for _, sh in ipairs(shapes) do
    local M, K, N, per_image = table.unpack(sh)
    local a, b, n = lunet.randn(M, K), lunet.randn(K, N), per_image and BATCH or 1
    local ts = B.time(function() for _ = 1, n do lunet.matmul(a, b) end end, reps, 1)
    secs, flops = secs + B.stats(ts), flops + 2 * M * K * N * n
  end
  lunet.set_num_threads(threads)
  return flops / secs / 1e9 * threads, flops, threads
end
local gflops, step_flops, threads = sgemm_rate(B.reps(5, 2))
local epoch_flops = step_flops * per_epoch
local limit, lunet_min = epoch_flops / (gflops * 1e9), B.stats(lunet_ts)
print(("sgemm at these shapes: %.1f GFLOP/s (one thread's rate × %d); epoch %.3g GFLOP -> limit %s; "
       .. "Lunet reaches %.0f%%"):format(gflops, threads, epoch_flops / 1e9, B.fmt_time(limit),
                                        100 * limit / lunet_min))
B.emit("fashion_cnn epoch sgemm limit", ("%.0f%% of limit"):format(100 * limit / lunet_min),
       ("sgemm %.1f GFLOP/s"):format(gflops), "-", ">= 50%")

if B.has_python("torch") then
  local rss = {}
  for _, threads in ipairs{1, 0} do
    local r = B.run_python("fashion_cnn.py", {REPS, STEPS, threads})
    rss[#rss + 1] = r.peak_rss_kb[1]
    local name = threads == 1 and "torch-1t" or ("torch-%dt"):format(r.threads[1])
    B.compare(("fashion_cnn epoch (%s)"):format(threads == 1 and "1 thread" or "torch default"),
              lunet_ts, r.epoch_s, name, ">= 3×")
  end
  if mine then
    print(("peak RSS: Lunet %.0f MB, PyTorch %.0f MB"):format(mine / 1024, rss[1] / 1024))
    B.emit("fashion_cnn peak RSS", ("%.0f MB"):format(mine / 1024), ("torch %.0f MB"):format(rss[1] / 1024),
           ("%.2f×"):format(rss[1] / mine), "<= torch")
  end
else
  B.skip("fashion_cnn epoch (1 thread)", "torch", "python3-torch", B.fmt_time(lunet_min))
end
