-- scripts/regression.lua: the universal approximation theorem at work. A network with one
-- hidden layer of tanh units fits sin(x) on [-pi, pi]; the final training MSE falls as the
-- hidden layer widens (1, 2, 4, … 64 units): with enough units one hidden layer
-- approximates any continuous function on a compact set. The fits are drawn against the data
-- in a plot (regression.svg unless a path is given).
--
--   lunet scripts/regression.lua [steps] [plot.svg]
local lunet = require "lunet"
local nn, optim, plot = lunet.nn, lunet.optim, lunet.plot

local steps = tonumber(arg and arg[1]) or 3000
local plot_path = arg and arg[2] or "regression.svg"
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
-- every 10th point as the data, the fits as lines through all points
local x_all, x_data, y_data = X:reshape(-1), {}, {}
for i = 1, n, 10 do x_data[#x_data + 1], y_data[#y_data + 1] = xs[i][1], ys[i][1] end
local series = {{name = "sin(x) (data)", x = x_data, values = y_data, style = "scatter"}}
for _, width in ipairs{1, 2, 4, 8, 16, 32, 64} do
  lunet.manual_seed(0)
  local model = nn.Sequential(nn.Linear(1, width), nn.Tanh(), nn.Linear(width, 1))
  local opt = optim.Adam(model:parameters(), {lr = 0.02})
  local sched = optim.CosineAnnealingLR(opt, {T_max = steps})  -- settle at the end
  local loss
  local bar = lunet.progress(steps, {desc = ("width %d"):format(width), unit = "step"})
  for step in bar do
    opt:zero_grad()
    loss = nn.mse_loss(model(X), Y)
    loss:backward()
    opt:step()
    sched:step()
    if step % 100 == 0 or step == steps then bar:set_postfix{mse = loss:item()} end
  end
  print(("%5d   %.3e"):format(width, loss:item()))
  if width == 1 or width == 4 or width == 64 then
    series[#series + 1] = {name = ("%d hidden unit%s"):format(width, width > 1 and "s" or ""),
                           x = x_all, values = lunet.no_grad(model, X):reshape(-1)}
  end
end
plot.curves(plot_path, series, {title = "One hidden layer fits sin(x) better as it widens",
                                xlabel = "x", ylabel = "y"})
print("Fits plotted to " .. plot_path)
