-- scripts/digits_seeds.lua: the digits study (scripts/digits.lua) for random_state 0..9, next to
-- what scikit-learn 1.2.1 gives for each seed (mean test accuracy 0.9661, 0.950-0.975, n_iter_
-- 22-41; from scripts/make_sklearn_fixtures.py). The random numbers are NumPy's, so each seed's
-- row should agree: exactly with --float64, within float32 rounding by default.
--
--   lunet scripts/digits_seeds.lua [--float64]
local lunet = require "lunet"
local data = require "lunet.data"
local metrics = require "lunet.metrics"

-- scikit-learn 1.2.1: {correct test rows of 360, n_iter_} for random_state 0..9
local SKLEARN = {
  {347, 30}, {349, 37}, {348, 27}, {342, 23}, {349, 29}, {346, 26}, {351, 41}, {350, 33}, {351, 34},
  {345, 22},
}
for _, r in ipairs(SKLEARN) do r[1] = r[1] / 360 end

local dtype = "float32"
for _, a in ipairs(arg or {}) do
  if a == "--float64" then dtype = "float64"
  else error("digits_seeds.lua: unknown argument " .. a .. " (expected --float64)") end
end

local X, y = data.load_digits()
if dtype == "float64" then X = X:double() end
local X_train, X_test, y_train, y_test =
  data.train_test_split(X, y, {test_size = 0.2, random_state = 42, stratify = y})
local scaler = data.StandardScaler()
X_train = scaler:fit_transform(X_train)
X_test = scaler:transform(X_test)

local function summary() return {sum = 0, lo = math.huge, hi = -math.huge} end
local function add(s, v) s.sum, s.lo, s.hi = s.sum + v, math.min(s.lo, v), math.max(s.hi, v) end
local sk, lu = summary(), summary()
print(("%s; scikit-learn 1.2.1 in float64"):format(dtype))
print("seed  sklearn acc  n_iter_  lunet acc  n_iter_  seconds")
for seed = 0, 9 do
  local t0 = lunet.clock()
  local mlp = lunet.MLPClassifier{
    hidden_layer_sizes = {128, 64}, activation = "relu", solver = "adam", max_iter = 500,
    random_state = seed, early_stopping = true, validation_fraction = 0.1, dtype = dtype,
  }
  mlp:fit(X_train, y_train)
  local acc = metrics.accuracy_score(y_test, mlp:predict(X_test))
  local ref = SKLEARN[seed + 1]
  print(("%4d  %11.4f  %7d  %9.4f  %7d  %7.2f"):format(seed, ref[1], ref[2], acc, mlp.n_iter_,
    lunet.clock() - t0))
  add(sk, ref[1])
  add(lu, acc)
end
print(("mean accuracy: scikit-learn %.4f (min %.4f, max %.4f), lunet %.4f (min %.4f, max %.4f)")
  :format(sk.sum / 10, sk.lo, sk.hi, lu.sum / 10, lu.lo, lu.hi))
