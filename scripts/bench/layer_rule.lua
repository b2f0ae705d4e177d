-- scripts/bench/layer_rule.lua: the measurement behind docs/internals.md's layer rule — a Linear as
-- the C module vs the same layer written in Lua over the functional op, forward + backward.
local lunet = require "lunet"
local nn = require "lunet.nn"
local F = nn.functional
lunet.manual_seed(1)
local LuaLinear = nn.Module("LuaLinear")
function LuaLinear:init(i, o)
  self.weight = nn.Parameter(lunet.randn(o, i) * 0.1)
  self.bias = nn.Parameter(lunet.zeros(o))
end
function LuaLinear:forward(x) return F.linear(x, self.weight, self.bias) end
local function bench(layer, x, n)
  local best = math.huge
  for r = 1, 5 do
    local t0 = os.clock()
    for i = 1, n do
      local y = layer(x)
      y:sum():backward()
    end
    best = math.min(best, (os.clock() - t0) / n)
  end
  return best * 1e6
end
for _, b in ipairs{1, 200} do
  local x = lunet.randn(b, 64)
  local c, l = nn.Linear(64, 128), LuaLinear(64, 128)
  local n = b == 1 and 20000 or 3000
  print(string.format("batch %3d: C nn.Linear %.2f us, Lua layer over F.linear %.2f us (fwd+bwd)",
        b, bench(c, x, n), bench(l, x, n)))
end
