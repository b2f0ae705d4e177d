-- scripts/digits.lua: scikit-learn's digits study with lunet.MLPClassifier.
--
--   lunet scripts/digits.lua [plot.svg] [--float64]
--
-- It prints what the Python original (scripts/bench/digits.py) prints with scikit-learn 1.2.1:
-- the same split, weights and batches (lunet.data.RandomState is NumPy's generator), so the same
-- 29 epochs and 0.9667 test accuracy. --float64 computes in scikit-learn's float64 (the loss
-- curve then equals scikit-learn's to ~1e-15); the default float32 is within its rounding.
--
-- The Python original:
--   X, y = load_digits(return_X_y=True)
--   X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42,
--                                                       stratify=y)
--   scaler = StandardScaler(); X_train = scaler.fit_transform(X_train); X_test = scaler.transform(X_test)
--   mlp = MLPClassifier(hidden_layer_sizes=(128, 64), activation="relu", solver="adam",
--                       max_iter=500, random_state=42, early_stopping=True, validation_fraction=0.1)
--   mlp.fit(X_train, y_train); y_pred = mlp.predict(X_test)
local lunet = require "lunet"
local data = require "lunet.data"
local metrics = require "lunet.metrics"

local plot_path, dtype = "digits_training.svg", "float32"
for _, a in ipairs(arg or {}) do
  if a == "--float64" then dtype = "float64" else plot_path = a end
end

local X, y = data.load_digits()
if dtype == "float64" then X = X:double() end
print(("Dataset shape: (%d, %d)"):format(X:size(1), X:size(2)))
print("Classes: [" .. table.concat(data.LabelEncoder():fit(y).classes_, ", ") .. "]")

local X_train, X_test, y_train, y_test =
  data.train_test_split(X, y, {test_size = 0.2, random_state = 42, stratify = y})

local scaler = data.StandardScaler()
X_train = scaler:fit_transform(X_train)
X_test = scaler:transform(X_test)

local mlp = lunet.MLPClassifier{
  hidden_layer_sizes = {128, 64},
  activation = "relu",
  solver = "adam",
  max_iter = 500,
  random_state = 42,
  early_stopping = true,
  validation_fraction = 0.1,
  dtype = dtype,
}
mlp:fit(X_train, y_train)
local y_pred = mlp:predict(X_test)

print(("Test Accuracy: %.4f"):format(metrics.accuracy_score(y_test, y_pred)))
print("Training stopped at epoch: " .. mlp.n_iter_)
print()
print("Classification Report:")
print(metrics.classification_report(y_test, y_pred))

print("Network architecture:")
print("Input neurons: " .. mlp.coefs_[1]:size(1))
for i, W in ipairs(mlp.coefs_) do
  if i < #mlp.coefs_ then print(("Hidden layer %d: %d neurons (ReLU)"):format(i, W:size(2))) end
end
print(("Output neurons: %d (one per digit class)"):format(mlp.coefs_[#mlp.coefs_]:size(2)))

-- The training curves: loss per epoch (left axis) and validation accuracy (right axis).
local plot = require "lunet.plot"
plot.fit(plot_path, mlp, {title = "MLPClassifier on digits", y2label = "validation accuracy"})
print("Training curves saved to " .. plot_path)
