-- scripts/bench/elementwise.lua: element-wise speed against PyTorch — sin, add, where and
-- sum(dim) on float32 tensors of 100, 10^4 and 10^6 elements (10×10, 100×100, 1000×1000; sum
-- over the last dim), on 1 thread and on the default count. Small sizes measure the cost of a
-- call, large ones the kernels. The PyTorch peer runs before and after Lunet, and both sides
-- report their fastest repeat. Reports time per call.
--
--   lunet scripts/bench/elementwise.lua [--quick]
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local lunet = require "lunet"

B.header("elementwise")
local REPS = B.reps(7, 3)
local default = lunet.get_num_threads()
local SIZES = {{10, 10}, {100, 100}, {1000, 1000}}

local function cases(r, c)
  local x, y = lunet.randn(r, c), lunet.randn(r, c)
  local m = lunet.rand(r, c):lt(0.5)
  return {
    {"sin", function() return x:sin() end},
    {"add", function() return x + y end},
    {"where", function() return lunet.where(m, x, y) end},
    {"sum", function() return x:sum(2) end},
  }
end

-- each repeat times a loop of calls (about 2·10^6 elements in all), as the peer does
local function timed(f, n)
  local loop = math.max(1, 2000000 // n)
  local ts = B.time(function() for _ = 1, loop do f() end end, REPS, 1)
  for i = 1, #ts do ts[i] = ts[i] / loop end
  return ts
end

local has_peer = B.has_python("torch")
local peer1 = has_peer and B.run_python("elementwise.py", {REPS, default}) or nil
local mine = {}
for _, threads in ipairs(default > 1 and {1, default} or {1}) do
  lunet.set_num_threads(threads)
  for _, s in ipairs(SIZES) do
    local n = s[1] * s[2]
    for _, c in ipairs(cases(s[1], s[2])) do mine[("%s_%d_%d"):format(c[1], n, threads)] = timed(c[2], n) end
  end
end
lunet.set_num_threads(default)
local peer2 = has_peer and B.run_python("elementwise.py", {REPS, default}) or nil

for _, threads in ipairs(default > 1 and {1, default} or {1}) do
  for _, s in ipairs(SIZES) do
    local n = s[1] * s[2]
    for _, op in ipairs{"sin", "add", "where", "sum"} do
      local key = ("%s_%d_%d"):format(op, n, threads)
      local name = ("%s %s, %d thr"):format(op == "sum" and "sum(dim)" or op,
                                           n == 100 and "100" or ("10^%d"):format(math.floor(math.log(n, 10) + 0.5)), threads)
      local target = n == 100 and ">= 3×" or n == 1000000 and ">= 1×" or ""
      if has_peer then
        local p = {}
        for _, v in ipairs(peer1[key]) do p[#p + 1] = v end
        for _, v in ipairs(peer2[key]) do p[#p + 1] = v end
        B.compare(name, mine[key], p, "torch", target)
      else
        B.skip(name, "torch", "python3-torch", B.fmt_time((B.stats(mine[key]))))
      end
    end
  end
end
