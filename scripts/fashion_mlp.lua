-- scripts/fashion_mlp.lua: a 784-256-128-10 ReLU MLP on Fashion-MNIST with a hand-made loop.
--
--   lunet scripts/fashion_mlp.lua [epochs]     (needs the package dataset-fashion-mnist)
--   mpirun -np N lunet scripts/fashion_mlp.lua   (data-parallel: each rank a 1/N of each batch of
--                                                 128; rank 1 prints; the same steps as alone)
local lunet = require "lunet"
local nn = require "lunet.nn"
local optim = require "lunet.optim"
local data = require "lunet.data"

local epochs = tonumber(arg and arg[1]) or 10
lunet.manual_seed(0)
local dist = lunet.distributed.init()   -- alone: a world of one rank
local print = dist.is_main() and print or function() end
local BATCH = 128 // dist.size()        -- per rank: the global batch stays 128

local X_train, y_train = data.load_fashion_mnist("train")
local X_test, y_test = data.load_fashion_mnist("test")
print(("train %d×%d, test %d×%d"):format(X_train:size(1), X_train:size(2),
                                         X_test:size(1), X_test:size(2)))

-- Normalize pixels with the training set's mean and standard deviation (torchvision's
-- transforms.Normalize((0.2860,), (0.3530,)) for this data set)
local mean, std = X_train:mean():item(), X_train:std():item()
X_train:sub_(mean):div_(std)
X_test:sub_(mean):div_(std)

local model = nn.Sequential(
  nn.Linear(784, 256), nn.ReLU(),
  nn.Linear(256, 128), nn.ReLU(),
  nn.Linear(128, 10))
print(model)
local ddp = dist.DistributedDataParallel(model)   -- averages the gradients in backward
local opt = optim.Adam(model:parameters(), {lr = 1e-3})

-- cross_entropy wants 1-based class ids; the labels are 0..9
local target_train, target_test = y_train + 1, y_test + 1

local function accuracy(X, target)
  local logits = lunet.no_grad(model, X)
  return logits:argmax(2):eq(target):sum():item() / X:size(1)
end

for epoch = 1, epochs do
  local t0 = lunet.clock()
  model:train()
  local total, n = 0, 0
  local bar = lunet.progress(dist.shard(X_train, target_train, {batch_size = BATCH, shuffle = true,
                                                                 random_state = epoch}),
                             {desc = ("epoch %d/%d"):format(epoch, epochs), unit = "batch",
                              total = math.ceil(X_train:size(1) / dist.size() / BATCH),
                              quiet = not dist.is_main()})
  for xb, yb in bar do
    opt:zero_grad()
    local loss = nn.cross_entropy(ddp(xb), yb)
    loss:backward()
    opt:step()
    total, n = total + loss:item() * xb:size(1), n + xb:size(1)
    bar:set_postfix{loss = total / n}
  end
  model:eval()
  print(("epoch %2d  loss %.4f  test accuracy %.4f  %.2f s"):format(
    epoch, total / n, accuracy(X_test, target_test), lunet.clock() - t0))
end
print(("Test accuracy after %d epochs: %.4f"):format(epochs, accuracy(X_test, target_test)))
