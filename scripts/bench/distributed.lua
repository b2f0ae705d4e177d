-- scripts/bench/distributed.lua: data-parallel training over MPI on this host. The Fashion-MNIST
-- MLP (784-256-128-10, Adam, global batch 128, float32, random data of its shape) three ways:
-- one process on all cores; N ranks × 1 thread; N ranks with the default split (the cores
-- divided among the ranks). Each prints the epoch time (60000 samples, from timed steps),
-- samples/s, the all-reduce time a step spends in MPI and its bytes, and the scaling efficiency
-- (one process's epoch time / this one's). Then the all-reduce's latency and bandwidth, the
-- figures docs/distributed.md's scaling model uses.
--
--   lunet scripts/bench/distributed.lua [--quick]     (needs mpirun; N = the CPUs nproc counts)
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local lunet = require "lunet"
local nn, optim = lunet.nn, lunet.optim

local SAMPLES, BATCH = 60000, 128

-- worker: run by every rank; rank 1 prints "WORK key value …"
local function worker(steps)
  local dist = lunet.distributed.init()
  local per = BATCH // dist.size()
  lunet.manual_seed(0)
  local X, y = lunet.rand(per * 8, 784), lunet.randint(1, 11, {per * 8})
  local model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                              nn.Linear(128, 10))
  local ddp = dist.DistributedDataParallel(model)
  local opt = optim.Adam(model:parameters(), {lr = 1e-3})
  local function step(i)
    local k = (i % 8) * per + 1
    opt:zero_grad()
    nn.cross_entropy(ddp(X:narrow(1, k, per)), y:narrow(1, k, per)):backward()
    opt:step()
  end
  for i = 1, 20 do step(i) end
  dist.barrier()
  local s0 = ddp:stats()
  local t0 = lunet.clock()
  for i = 1, steps do step(i) end
  dist.barrier()
  local t = lunet.clock() - t0
  local s1 = ddp:stats()
  local epoch = t / steps * SAMPLES / BATCH
  if dist.is_main() then
    print(("WORK %.6f %.1f %.4f %d %d"):format(epoch, SAMPLES / epoch,
      (s1.comm_seconds - s0.comm_seconds) / steps * 1e3, (s1.bytes - s0.bytes) // math.max(1, steps),
      lunet.get_num_threads()))
  end
end

-- all-reduce of n float32 elements, the best time of reps (rank 1 prints "AR bytes seconds")
local function allreduce_worker()
  local dist = lunet.distributed.init()
  for _, n in ipairs {1, 16384, 262144, 1048576} do
    local t = lunet.ones(n)
    local best = math.huge
    for _ = 1, (n > 100000 and 20 or 200) do
      dist.barrier()
      local t0 = lunet.clock()
      dist.all_reduce(t)
      best = math.min(best, lunet.clock() - t0)
    end
    if dist.is_main() then print(("AR %d %.9f"):format(4 * n, best)) end
  end
end

if arg[1] == "--worker" then return worker(tonumber(arg[2])) end
if arg[1] == "--allreduce" then return allreduce_worker() end

B.header("distributed")
local ok_mpi = os.execute("command -v mpirun >/dev/null 2>&1")
if not lunet.distributed.is_available() or not ok_mpi then
  print("distributed: Lunet without MPI or no mpirun: skipped")
  print("RESULT distributed|skipped (no MPI)|-|-|-")
  return
end
local N = tonumber(io.popen("nproc"):read("l")) or 2
if N < 2 then N = 2 end
local STEPS = B.quick and 60 or 200
local REPS = B.reps(3, 1)
local self = B.shell_quote(B.dir .. "/distributed.lua")
local lun = B.shell_quote(B.lunet)
local MPI = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 " ..
            "timeout 600 mpirun --bind-to none -np %d %s"

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  p:close()
  return out
end

-- the best of REPS runs of a configuration (runs interleaved by the caller)
local configs = {
  {name = "1 process, default threads", cmd = ("env -u LUNET_NUM_THREADS %s %s --worker %d"):format(lun, self, STEPS)},
  {name = ("%d ranks × 1 thread"):format(N),
   cmd = (MPI):format(N, ("-x LUNET_NUM_THREADS=1 %s %s --worker %d"):format(lun, self, STEPS))},
  {name = ("%d ranks, default split"):format(N),
   cmd = (MPI):format(N, ("%s %s --worker %d"):format(lun, self, STEPS))},
}
for _, c in ipairs(configs) do c.best = nil end
for _ = 1, REPS do
  for _, c in ipairs(configs) do
    local out = run(c.cmd)
    local e, sps, comm, bytes, th = out:match("WORK (%S+) (%S+) (%S+) (%S+) (%S+)")
    if not e then
      print(("%s failed:\n%s"):format(c.name, out))
    elseif not c.best or tonumber(e) < c.best[1] then
      c.best = {tonumber(e), tonumber(sps), tonumber(comm), tonumber(bytes), tonumber(th)}
    end
  end
end

local base = configs[1].best and configs[1].best[1]
print(("%-28s %10s %10s %14s %12s %8s %10s"):format("configuration", "epoch", "samples/s",
  "all-reduce/step", "bytes/step", "threads", "efficiency"))
for _, c in ipairs(configs) do
  local b = c.best
  if b then
    print(("%-28s %10s %10.0f %12.3f ms %12d %8d %9.2f"):format(c.name, B.fmt_time(b[1]), b[2], b[3],
      b[4], b[5], base and base / b[1] or 0))
    print(("RESULT distributed: %s epoch|%s|%s|%.2f|-"):format(c.name, B.fmt_time(b[1]),
      base and B.fmt_time(base) or "-", base and base / b[1] or 0))
  end
end

local ar = run((MPI):format(N, ("%s %s --allreduce"):format(lun, self)))
print(("all-reduce on %d ranks of this host (best of many):"):format(N))
for bytes, s in ar:gmatch("AR (%d+) (%S+)") do
  print(("  %9d bytes: %8.1f us  (%.2f GB/s as ring traffic 2(N-1)/N·bytes/time)"):format(
    tonumber(bytes), tonumber(s) * 1e6, 2 * (N - 1) / N * tonumber(bytes) / tonumber(s) / 1e9))
end
