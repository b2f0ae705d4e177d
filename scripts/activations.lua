-- scripts/activations.lua: vanishing gradients in a 10-layer MLP on digits.
-- The same deep net (9 hidden layers of 64 units, Glorot-uniform weights and zero biases, as
-- scikit-learn's MLP starts) with sigmoid, tanh, ReLU and LeakyReLU: the gradient norm of each
-- layer's weight after the first backward pass, then the test accuracy and training loss after
-- a few epochs of SGD with momentum. The sigmoid's derivative is at most 1/4, so the gradient
-- shrinks layer by layer towards the input (by about 4x a layer here) and the net does not learn.
-- tanh (derivative 1 at 0) keeps its gradient at this depth: Glorot's initialization was derived
-- for it; with a smaller init (PyTorch's default Linear init) tanh's gradient shrinks too.
--
--   lunet scripts/activations.lua [plot.svg] [epochs]
local lunet = require "lunet"
local nn = require "lunet.nn"
local optim = require "lunet.optim"
local data = require "lunet.data"

local plot_path = arg and arg[1] or "activations.svg"
local epochs = tonumber(arg and arg[2]) or 10
local depth, width = 10, 64

local X, y = data.load_digits()
local X_train, X_test, y_train, y_test =
  data.train_test_split(X, y, {test_size = 0.2, random_state = 42, stratify = y})
local scaler = data.StandardScaler()
X_train, X_test = scaler:fit_transform(X_train), scaler:transform(X_test)
local t_train, t_test = y_train + 1, y_test + 1        -- 1-based class ids

local activations = {
  {"sigmoid", nn.Sigmoid}, {"tanh", nn.Tanh}, {"ReLU", nn.ReLU},
  {"LeakyReLU", function() return nn.LeakyReLU(0.01) end},
}

local function deep_mlp(make_act)
  local net = nn.Sequential()
  local n_in = X:size(2)
  for i = 1, depth do
    local fc = nn.Linear(n_in, i < depth and width or 10)
    nn.init.xavier_uniform_(fc.weight)
    nn.init.zeros_(fc.bias)
    net:add(fc)
    if i < depth then net:add(make_act()) end
    n_in = width
  end
  return net
end

local function weights(net)                           -- the Linear weights, input side first
  local w = {}
  for i = 1, #net do
    local params = net[i]:parameters()
    if #params > 0 then w[#w + 1] = params[1] end
  end
  return w
end

local function norm(t) return (t * t):sum():sqrt():item() end

local curves = {}
for _, a in ipairs(activations) do
  local name, make_act = a[1], a[2]
  lunet.manual_seed(0)
  local net = deep_mlp(make_act)

  -- gradient norms after one backward pass on the whole training set
  local loss = nn.cross_entropy(net(X_train), t_train)
  loss:backward()
  local norms = {}
  for i, w in ipairs(weights(net)) do norms[i] = norm(w.grad) end
  net:zero_grad()

  local opt = optim.SGD(net:parameters(), {lr = 0.01, momentum = 0.9})
  local train_loss
  for epoch in lunet.progress(epochs, {desc = name, unit = "epoch"}) do
    local total = 0
    for xb, yb in data.batches(X_train, t_train, {batch_size = 64, shuffle = true,
                                                  random_state = epoch}) do
      opt:zero_grad()
      local loss = nn.cross_entropy(net(xb), yb)
      loss:backward()
      opt:step()
      total = total + loss:item() * xb:size(1)
    end
    train_loss = total / X_train:size(1)
  end
  local logits = lunet.no_grad(net, X_test)
  local acc = logits:argmax(2):eq(t_test):sum():item() / X_test:size(1)

  local shown = {}
  for i, v in ipairs(norms) do shown[i] = ("%.1e"):format(v) end
  print(("%-9s |grad W| layer 1..%d: %s"):format(name, #norms, table.concat(shown, " ")))
  print(("%-9s first/last layer ratio %.1e; after %d epochs: training loss %.4f, "
         .. "test accuracy %.4f"):format(name, norms[1] / norms[#norms], epochs, train_loss, acc))
  curves[#curves + 1] = {name = name, norms = norms}
end

-- per-layer gradient norms on a log scale
local plot = require "lunet.plot"
local series = {}
for i, c in ipairs(curves) do
  local logs = {}
  for k, v in ipairs(c.norms) do logs[k] = math.log(v, 10) end
  series[i] = {name = c.name, values = logs}
end
plot.curves(plot_path, series, {title = "Gradient norm of each layer's weight after one backward pass",
                                xlabel = "layer (input side first)", ylabel = "log10 |dL/dW|"})
print("Gradient norms plotted to " .. plot_path)
