-- scripts/bench/op_overhead.lua: what one call costs when the work is nothing — an element-wise add
-- of two 1-element tensors (1e6 times) and a Linear(64, 64) forward on a 1×64 input (1e5 times),
-- from Lua and from Python/PyTorch. Reports ns per call.
--
--   lunet scripts/bench/op_overhead.lua [--quick]
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local lunet = require "lunet"
local nn = lunet.nn

B.header("op_overhead")
local REPS = B.reps(5, 3)
local N_ADD, N_LIN = B.reps(1000000, 200000), B.reps(100000, 20000)

local a, b = lunet.ones(1), lunet.ones(1)
local lin, x = nn.Linear(64, 64), lunet.randn(1, 64)
local function add_loop(n)
  for _ = 1, n do local _ = a + b end
end
local function lin_loop(n)
  for _ = 1, n do local _ = lin(x) end
end
add_loop(N_ADD // 10)
lin_loop(N_LIN // 10)
local add_ns, lin_ns = {}, {}
for i = 1, REPS do
  collectgarbage("collect")
  local t0 = lunet.clock()
  add_loop(N_ADD)
  add_ns[i] = (lunet.clock() - t0) / N_ADD * 1e9
  collectgarbage("collect")
  t0 = lunet.clock()
  lin_loop(N_LIN)
  lin_ns[i] = (lunet.clock() - t0) / N_LIN * 1e9
end

local function ns(v) return ("%.0f ns"):format(v) end
if B.has_python("torch") then
  local r = B.run_python("op_overhead.py", {REPS, N_ADD, N_LIN})
  B.compare("add 1-element (per call)", add_ns, r.add_ns, "torch", ">= 5×", ns)
  B.compare("Linear 1×64 fwd (per call)", lin_ns, r.linear_ns, "torch", ">= 5×", ns)
else
  print(("add: %s per call; Linear forward: %s per call"):format(B.minmed(add_ns, ns),
                                                              B.minmed(lin_ns, ns)))
  B.skip("add 1-element (per call)", "torch", "python3-torch", ns((B.stats(add_ns))))
  B.skip("Linear 1×64 fwd (per call)", "torch", "python3-torch", ns((B.stats(lin_ns))))
end
