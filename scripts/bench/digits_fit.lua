-- scripts/bench/digits_fit.lua: the digits study's fit, Lunet against scikit-learn and PyTorch.
--
--   lunet scripts/bench/digits_fit.lua [--quick]
--
-- 1. lunet.MLPClassifier vs sklearn.neural_network.MLPClassifier, the study's settings
--    (hidden (128, 64), relu, adam, max_iter 500, random_state 42, early_stopping, validation 0.1):
--    fit time, n_iter_, time per epoch.
-- 2. The bare 64-128-64-10 Adam loop (batch 200, 29 epochs, float32, cross-entropy) on the
--    estimator's training rows, written with lunet.nn/optim and with PyTorch on one thread:
--    time per epoch.
-- 3. The whole script: `lunet scripts/digits.lua` vs `python3 scripts/bench/digits.py`.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local lunet = require "lunet"
local nn, optim, data = lunet.nn, lunet.optim, lunet.data

B.header("digits_fit")
local REPS = B.reps(5, 2)
local EPOCHS = 29          -- scikit-learn's n_iter_ on this study
local N_LOOP = 1293        -- rows the estimator trains on: 1437 minus the 10% validation split

local X, y = data.load_digits()
local X_train, _, y_train, _ = data.train_test_split(X, y, {test_size = 0.2, random_state = 42,
                                                            stratify = y})
X_train = data.StandardScaler():fit_transform(X_train)

-- 1. the estimator -------------------------------------------------------------------------
local function fit()
  local mlp = lunet.MLPClassifier{hidden_layer_sizes = {128, 64}, activation = "relu",
                                  solver = "adam", max_iter = 500, random_state = 42,
                                  early_stopping = true, validation_fraction = 0.1}
  mlp:fit(X_train, y_train)
  return mlp
end
local fit_ts, last = B.time(fit, REPS, 1)
local n_iter = last[1].n_iter_
local lunet_epoch = {}
for i, t in ipairs(fit_ts) do lunet_epoch[i] = t / n_iter end
print(("lunet.MLPClassifier fit: %s, n_iter_ %d, %s per epoch"):format(
  B.minmed(fit_ts), n_iter, B.fmt_time((B.stats(lunet_epoch)))))

if B.has_python("sklearn.neural_network") then
  local r = B.run_python("digits_fit.py", {"sklearn", REPS})
  local sk_n = r.n_iter[1]
  local sk_epoch = {}
  for i, t in ipairs(r.fit_s) do sk_epoch[i] = t / sk_n end
  print(("sklearn MLPClassifier fit: %s, n_iter_ %d, %s per epoch"):format(
    B.minmed(r.fit_s), sk_n, B.fmt_time((B.stats(sk_epoch)))))
  B.compare("digits fit (whole fit)", fit_ts, r.fit_s, "sklearn", "-")
  B.compare("digits fit (per epoch)", lunet_epoch, sk_epoch, "sklearn", ">= 5× tuned, >= 3× default")
  B.emit("digits n_iter_", tostring(n_iter), "sklearn " .. sk_n, "-", "")
else
  B.skip("digits fit (whole fit)", "sklearn.neural_network", "python3-sklearn",
         B.fmt_time((B.stats(fit_ts))))
end

-- 2. the bare loop ---------------------------------------------------------------------------
local Xl, yl = X_train:narrow(1, 1, N_LOOP):contiguous(), (y_train:narrow(1, 1, N_LOOP) + 1):contiguous()
local function loop()
  local model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                              nn.Linear(64, 10))
  local opt = optim.Adam(model:parameters(), {lr = 1e-3})
  local loss
  for epoch = 1, EPOCHS do
    for xb, yb in data.batches(Xl, yl, {batch_size = 200, shuffle = true, random_state = epoch}) do
      opt:zero_grad()
      loss = nn.cross_entropy(model(xb), yb)
      loss:backward()
      opt:step()
    end
  end
  return loss:item()
end
lunet.manual_seed(0)
local loop_ts = B.time(loop, REPS, 1)
for i, t in ipairs(loop_ts) do loop_ts[i] = t / EPOCHS end
print(("lunet.nn loop 64-128-64-10, batch 200: %s per epoch"):format(B.minmed(loop_ts)))
if B.has_python("torch") then
  local r = B.run_python("digits_fit.py", {"torch", REPS, N_LOOP, EPOCHS})
  B.compare("digits loop (per epoch)", loop_ts, r.epoch_s, "torch-1t", ">= 5× tuned, >= 3× default")
else
  B.skip("digits loop (per epoch)", "torch", "python3-torch", B.fmt_time((B.stats(loop_ts))))
end

-- 3. the whole script ------------------------------------------------------------------------
local tmp = os.tmpname()
local script_ts = B.time_command(("%s %s %s"):format(B.shell_quote(B.lunet),
  B.shell_quote(B.root .. "/scripts/digits.lua"), B.shell_quote(tmp .. ".lunet.svg")), REPS)
if B.has_python("sklearn.neural_network") then
  local py_ts = B.time_command(("%s %s %s"):format(B.python,
    B.shell_quote(B.dir .. "/digits.py"), B.shell_quote(tmp .. ".py.svg")), REPS)
  B.compare("digits whole script", script_ts, py_ts, "python", ">= 10×")
else
  print("lunet scripts/digits.lua: " .. B.minmed(script_ts))
  B.skip("digits whole script", "sklearn.neural_network", "python3-sklearn",
         B.fmt_time((B.stats(script_ts))))
end
os.remove(tmp); os.remove(tmp .. ".lunet.svg"); os.remove(tmp .. ".py.svg")
