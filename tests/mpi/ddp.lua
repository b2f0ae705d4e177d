-- tests/mpi/ddp.lua (mpirun -np 2): DistributedDataParallel on 2 ranks, each with half of a
-- batch, leaves the same parameters as one process on the whole batch (float64, a C layer and
-- a Lua module); no_sync accumulates; data.batches' shards cover each row once per epoch.
local lunet = require "lunet"
local nn, optim, data = lunet.nn, lunet.optim, lunet.data
local dist = lunet.distributed
dist.init()
assert(dist.size() == 2, "run with mpirun -np 2")
local rank = dist.rank()
local failures = 0
local function check(ok, msg)
  if not ok then failures = failures + 1; print(("rank %d FAIL: %s"):format(rank, msg)) end
end

-- a Lua module around C layers
local Net = nn.Module("Net")
function Net:init()
  self.fc1 = nn.Linear(5, 7, {dtype = "float64"})
  self.act = nn.Tanh()
  self.fc2 = nn.Linear(7, 2, {dtype = "float64"})
  self.scale = nn.Parameter(lunet.tensor({1.5}, {dtype = "float64"}))
end
function Net:forward(x) return self.fc2(self.act(self.fc1(x))) * self.scale end

local function make(seed)
  lunet.manual_seed(seed)
  return Net()
end

local X = lunet.randn(8, 5, {dtype = "float64"})
local Y = lunet.randn(8, 2, {dtype = "float64"})
dist.broadcast(X, 1)
dist.broadcast(Y, 1)

-- one process, full batch (every rank computes it)
local ref = make(1)
local ropt = optim.SGD(ref:parameters(), {lr = 0.1, momentum = 0.9})
for _ = 1, 3 do
  ropt:zero_grad()
  nn.mse_loss(ref(X), Y):backward()
  ropt:step()
end

-- DDP: rank r takes rows of its half; rank 2 starts from other weights (the broadcast fixes
-- them); bucket_mb tiny so that each parameter is a bucket of its own (several Iallreduces)
local model = make(rank)
local ddp = dist.DistributedDataParallel(model, {bucket_mb = 1e-5})
check(ddp.buckets == 5, "5 buckets, got " .. tostring(ddp.buckets))
local opt = optim.SGD(model:parameters(), {lr = 0.1, momentum = 0.9})
local xs, ys = X:narrow(1, 4 * (rank - 1) + 1, 4), Y:narrow(1, 4 * (rank - 1) + 1, 4)
for _ = 1, 3 do
  opt:zero_grad()
  nn.mse_loss(ddp(xs), ys):backward()
  opt:step()
end
local rp, mp = ref:parameters(), model:parameters()
for i = 1, #rp do
  local err = (rp[i] - mp[i]):abs():max():item()
  check(err < 1e-12, ("parameter %d differs from the full-batch run by %g"):format(i, err))
end
local st = ddp:stats()
check(st.steps == 3, "3 synchronised backward passes, got " .. st.steps)
local nbytes = 0
for _, p in ipairs(mp) do nbytes = nbytes + p:numel() * 8 end
check(st.bytes == 3 * nbytes, ("bytes all-reduced %d, expected %d"):format(st.bytes, 3 * nbytes))

-- no_sync: two quarter batches accumulated (the first not averaged) = one averaged half
local acc = make(3)
local dacc = dist.DistributedDataParallel(acc, {bucket_mb = 25})
check(dacc.buckets == 1, "one bucket of 25 MB, got " .. tostring(dacc.buckets))
local a1, a2 = xs:narrow(1, 1, 2), xs:narrow(1, 3, 2)
local b1, b2 = ys:narrow(1, 1, 2), ys:narrow(1, 3, 2)
dacc:no_sync(function() (nn.mse_loss(dacc(a1), b1) * 0.5):backward() end)
local g_local = acc.fc1.weight.grad:clone()
local g2 = dist.all_gather(g_local)
check((g2[1] - g2[2]):abs():max():item() > 1e-6, "no_sync left the gradients local")
;(nn.mse_loss(dacc(a2), b2) * 0.5):backward()
local one = make(3)
dist.broadcast(one.fc1.weight, 1)   -- make(3) is the same on both ranks already; keep it explicit
nn.mse_loss(one(X), Y):backward()
local err = (one.fc1.weight.grad - acc.fc1.weight.grad):abs():max():item()
check(err < 1e-12, ("no_sync + synced step = the full batch's gradient (error %g)"):format(err))

-- shards: the same permutation on each rank, each row once per epoch (11 rows: uneven)
local rows = lunet.arange(1, 12):reshape(11, 1)
local mine = {}
for xb in data.batches(rows, {batch_size = 3, shuffle = true, random_state = 7,
                              shard = {rank, 2}}) do
  for _, v in ipairs(xb:reshape(-1):totable()) do mine[#mine + 1] = v end
end
check(#mine == (rank == 1 and 6 or 5), "rank's share of 11 rows: " .. #mine)
local seen = {}
for _, list in ipairs(dist.all_gather_object(mine)) do
  for _, v in ipairs(list) do seen[v] = (seen[v] or 0) + 1 end
end
for v = 1, 11 do check(seen[v] == 1, ("row %d seen %s times"):format(v, tostring(seen[v]))) end
local via = {}
for xb in dist.shard(rows, {batch_size = 3, shuffle = true, random_state = 7}) do
  for _, v in ipairs(xb:reshape(-1):totable()) do via[#via + 1] = v end
end
check(table.concat(via, ",") == table.concat(mine, ","), "dist.shard is batches with shard = {rank, size}")

local total = dist.all_reduce(lunet.tensor({failures}, {dtype = "int64"})):sum():item()
if dist.is_main() then print(("ddp.lua: %d failures"):format(total)) end
if total > 0 then os.exit(1) end
