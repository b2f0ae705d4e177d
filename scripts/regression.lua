-- scripts/regression.lua: the universal approximation theorem at work. A network with one
-- hidden layer of tanh units fits sin(x) on [-pi, pi]; the final training MSE falls as the
-- hidden layer widens (1, 2, 4, … 64 units): with enough units one hidden layer
-- approximates any continuous function on a compact set.
--
--   lunet scripts/regression.lua [steps]
local lunet = require "lunet"
local nn, optim = lunet.nn, lunet.optim

local steps = tonumber(arg and arg[1]) or 3000
local n = 200
local xs, ys = {}, {}
for i = 1, n do
  local x = -math.pi + 2 * math.pi * (i - 1) / (n - 1)
  xs[i], ys[i] = {x}, {math.sin(x)}
end
local X, Y = lunet.tensor(xs), lunet.tensor(ys)

print(("one hidden layer (tanh), full batch Adam with cosine decay, %d steps, %d points")
  :format(steps, n))
print("width   final MSE")
for _, width in ipairs{1, 2, 4, 8, 16, 32, 64} do
  lunet.manual_seed(0)
  local model = nn.Sequential(nn.Linear(1, width), nn.Tanh(), nn.Linear(width, 1))
  local opt = optim.Adam(model:parameters(), {lr = 0.02})
  local sched = optim.CosineAnnealingLR(opt, {T_max = steps})  -- settle at the end
  local loss
  for _ = 1, steps do
    opt:zero_grad()
    loss = nn.mse_loss(model(X), Y)
    loss:backward()
    opt:step()
    sched:step()
  end
  print(("%5d   %.3e"):format(width, loss:item()))
end
