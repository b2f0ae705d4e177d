-- scripts/bench/cores.lua: processes that share cores (issue 16's targets). The digits loop
-- (64-128-64-10, Adam, batch 200, 1293 rows, as scripts/bench/digits_fit.lua's part 2) per-epoch
-- time, the median epoch of each run (while the other process runs too: not its best moment):
--   t1   one process alone on one thread (LUNET_NUM_THREADS=1)
--   (a)  two default processes at once: each ≤ 1.3 × t1 (the slower one is reported)
--   (b)  one default process beside a busy core (a spinning shell): ≤ 1.3 × t1
--   (c)  one default process alone: its multi-core speed (ratio t1 / (c))
-- and, for reference, two 1-thread processes at once: what sharing the machine costs by itself
-- (a shared cache, a clock that drops when both cores run), the best (a) can do.
-- Configurations run interleaved, REPS rounds, the best of each kept. Ratios are t1 / time, so
-- the targets read ≥ 0.77 (1/1.3). On a machine busy with other work these numbers say little.
--
--   lunet scripts/bench/cores.lua [--quick]
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local lunet = require "lunet"

local EPOCHS = 200   -- long enough (0.3 s) that two processes overlap

-- worker: prints "EPOCH <best per-epoch seconds>"
local function worker()
  local nn, optim, data = lunet.nn, lunet.optim, lunet.data
  local X, y = data.load_digits()
  X = data.StandardScaler():fit_transform(X):narrow(1, 1, 1293):contiguous()
  y = (y:narrow(1, 1, 1293) + 1):contiguous()
  lunet.manual_seed(0)
  local model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                              nn.Linear(64, 10))
  local opt = optim.Adam(model:parameters(), {lr = 1e-3})
  local ts = {}
  for epoch = 1, EPOCHS do
    local t0 = lunet.clock()
    for xb, yb in data.batches(X, y, {batch_size = 200, shuffle = true, random_state = epoch}) do
      opt:zero_grad()
      nn.cross_entropy(model(xb), yb):backward()
      opt:step()
    end
    if epoch > 3 then ts[#ts + 1] = lunet.clock() - t0 end
  end
  local _, med = B.stats(ts)
  print(("EPOCH %.9f"):format(med))
end
if arg[1] == "--worker" then return worker() end

B.header("cores")
local REPS = B.reps(5, 2)
local lun, self = B.shell_quote(B.lunet), B.shell_quote(B.dir .. "/cores.lua")
local one = ("env -u LUNET_NUM_THREADS %s %s --worker"):format(lun, self)
local single = ("LUNET_NUM_THREADS=1 %s %s --worker"):format(lun, self)
local function epochs(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  p:close()
  local r = {}
  for v in out:gmatch("EPOCH (%S+)") do r[#r + 1] = tonumber(v) end
  if #r == 0 then print("a worker failed:\n" .. out) end
  return r
end
local configs = {
  {key = "t1", name = "t1: alone, 1 thread", cmd = single},
  {key = "a", name = "(a) two default processes at once", cmd = ("(%s & %s; wait)"):format(one, one)},
  -- what sharing costs with no threads of ours to get in the way: (a)'s floor on this machine
  {key = "a1", name = "two 1-thread processes at once", cmd = ("(%s & %s; wait)"):format(single, single)},
  -- the spinner is this shell's child, ended by its own pid when the worker is done
  {key = "b", name = "(b) beside a busy core", cmd = ("(sh -c 'while :; do :; done' & s=$!; %s; kill $s)"):format(one)},
  {key = "c", name = "(c) alone, default threads", cmd = one},
}
local best = {}
for _ = 1, REPS do
  for _, c in ipairs(configs) do
    local r = epochs(c.cmd)
    local worst = 0
    for _, v in ipairs(r) do worst = math.max(worst, v) end   -- (a): the slower process
    if #r > 0 and (not best[c.key] or worst < best[c.key]) then best[c.key] = worst end
  end
end
local load = io.open("/proc/loadavg"):read("l"):match("^(%S+ %S+ %S+)")
print(("machine load (1/5/15 min) at the end: %s"):format(load))
local t1 = best.t1
for _, c in ipairs(configs) do
  local t = best[c.key]
  if t then
    local target = (c.key == "a" or c.key == "b") and "≤ 1.3 × t1 (ratio ≥ 0.77)" or
                   c.key == "c" and "multi-core speed (ratio > 1)" or
                   c.key == "a1" and "reference: (a)'s floor" or "-"
    print(("%-36s %10s per epoch   t1/this %.2f"):format(c.name, B.fmt_time(t), t1 and t1 / t or 0))
    B.emit("cores " .. c.name, B.fmt_time(t), t1 and ("t1 " .. B.fmt_time(t1)) or "-",
           t1 and ("%.2f"):format(t1 / t) or "-", target)
  end
end
