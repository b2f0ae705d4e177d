-- scripts/fashion_cnn.lua: a small convolutional network on Fashion-MNIST (the data set README's
-- "2 Conv + pooling" reaches 0.916):
--   conv(1→32, 3, pad 1)-ReLU-maxpool 2 → conv(32→64, 3, pad 1)-ReLU-maxpool 2
--   → Linear(3136, 128)-ReLU → Linear(128, 10), Adam 1e-3, batch 128, normalised pixels.
--
--   lunet scripts/fashion_cnn.lua [--epochs 5] [--batchnorm] [--limit N] [--save PATH] …
--   lunet scripts/fashion_cnn.lua --help
--
-- Needs the package dataset-fashion-mnist. With --batchnorm a BatchNorm2d follows each
-- convolution (train() while fitting, eval() to measure, so its running statistics are used).
local lunet = require "lunet"
local nn = require "lunet.nn"
local optim = require "lunet.optim"
local data = require "lunet.data"
local metrics = require "lunet.metrics"

local cmd = lunet.CmdLine()
cmd:text("Train a two-convolution network on Fashion-MNIST and report its test accuracy.")
cmd:option("--epochs", 5, "passes over the training set")
cmd:option("--batch", 128, "images per step")
cmd:option("--lr", 1e-3, "Adam's learning rate")
cmd:option("--batchnorm", false, "a BatchNorm2d after each convolution")
cmd:option("--limit", 0, "train on the first N images only (0: all 60000)")
cmd:option("--seed", 0, "random seed")
cmd:option("--save", "", "where to save the model (safetensors; default: a temporary file)")
local opt = cmd:parse(arg)
if not opt then return end
lunet.manual_seed(opt.seed)

local X_train, y_train = data.load_fashion_mnist("train")
local X_test, y_test = data.load_fashion_mnist("test")
if opt.limit > 0 and opt.limit < X_train:size(1) then
  X_train, y_train = X_train:narrow(1, 1, opt.limit), y_train:narrow(1, 1, opt.limit)
end
-- Normalise with the training set's mean and standard deviation, then images [N, 1, 28, 28]
local mean, std = X_train:mean():item(), X_train:std():item()
X_train = ((X_train - mean) / std):view(-1, 1, 28, 28)
X_test = ((X_test - mean) / std):view(-1, 1, 28, 28)
local target_train, target_test = y_train + 1, y_test + 1   -- 1-based class ids
print(("train %d images, test %d, 1×28×28"):format(X_train:size(1), X_test:size(1)))

local function block(cin, cout)        -- conv 3×3 (pad 1) [- BatchNorm2d] - ReLU - maxpool 2
  local seq = nn.Sequential(nn.Conv2d(cin, cout, 3, {padding = 1}))
  if opt.batchnorm then
    assert(nn.BatchNorm2d, "--batchnorm: this Lunet has no nn.BatchNorm2d")
    seq:add(nn.BatchNorm2d(cout))
  end
  return seq:add(nn.ReLU()):add(nn.MaxPool2d(2))
end
local model = nn.Sequential(block(1, 32), block(32, 64), nn.Flatten(),
                            nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
print(model)
local opt_ = optim.Adam(model:parameters(), {lr = opt.lr})

-- Class predictions in batches of 1000 (the whole test set at once would hold a gigabyte of
-- first-layer activations), in eval mode
local function predict(m, X)
  m:eval()
  local parts = {}
  lunet.no_grad(function()
    for i = 1, X:size(1), 1000 do
      local n = math.min(1000, X:size(1) - i + 1)
      parts[#parts + 1] = m(X:narrow(1, i, n)):argmax(2)
    end
  end)
  return lunet.cat(parts, 1)
end
local function accuracy(pred, target) return pred:eq(target):sum():item() / target:size(1) end

local steps = math.ceil(X_train:size(1) / opt.batch)
for epoch = 1, opt.epochs do
  local t0 = lunet.clock()
  model:train()
  local total, n = 0, 0
  local bar = lunet.progress(data.batches(X_train, target_train, {batch_size = opt.batch,
                                                                  shuffle = true,
                                                                  random_state = opt.seed + epoch}),
                             {desc = ("epoch %d/%d"):format(epoch, opt.epochs), unit = "batch",
                              total = steps})
  for xb, yb in bar do
    opt_:zero_grad()
    local loss = nn.cross_entropy(model(xb), yb)
    loss:backward()
    opt_:step()
    total, n = total + loss:item() * xb:size(1), n + xb:size(1)
    bar:set_postfix{loss = ("%.4f"):format(total / n),
                    ["images/s"] = ("%.0f"):format(n / (lunet.clock() - t0))}
  end
  local train_s = lunet.clock() - t0
  print(("epoch %d  loss %.4f  test accuracy %.4f  %.1f s (%.0f images/s)"):format(
    epoch, total / n, accuracy(predict(model, X_test), target_test), train_s, n / train_s))
end

local pred = predict(model, X_test)
local classes = {"T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                 "Bag", "Boot"}
print("confusion matrix (rows: true class, columns: predicted)")
local cm = metrics.confusion_matrix(target_test, pred)
io.write(("%9s"):format(""))
for j = 1, 10 do io.write(("%9s"):format(classes[j])) end
io.write("\n")
for i = 1, 10 do
  io.write(("%9s"):format(classes[i]))
  for j = 1, 10 do io.write(("%9d"):format(cm[i][j])) end
  io.write("\n")
end

-- Save, reload into a fresh network of the same shape, and check it predicts the same
local path = opt.save ~= "" and opt.save or os.tmpname() .. ".safetensors"
lunet.save(path, model)
local copy = nn.Sequential(block(1, 32), block(32, 64), nn.Flatten(),
                           nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
copy:load_state_dict(lunet.load(path))
local same = predict(copy, X_test):eq(pred):sum():item() == pred:size(1)
print(("saved to %s; the reloaded model predicts the same: %s"):format(path, tostring(same)))
if opt.save == "" then os.remove(path) end
assert(same, "the reloaded model predicts differently")
print(("Test accuracy after %d epochs: %.4f"):format(opt.epochs, accuracy(pred, target_test)))
