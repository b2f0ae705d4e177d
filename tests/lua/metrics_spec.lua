-- metrics_spec.lua: lunet.metrics against values derived by hand from scikit-learn 1.2's algorithms.
local lunet = require "lunet"
local metrics = require "lunet.metrics"

local h = dofile("tests/lua/helpers.lua")
local i64 = h.i64

describe("classification metrics", function()
  -- scikit-learn's own docstring example
  local yt, yp = {0, 1, 2, 2, 2}, {0, 0, 2, 2, 1}

  it("accuracy_score on arrays and int64 tensors", function()
    assert.are.equal(0.6, metrics.accuracy_score(yt, yp))
    assert.are.equal(0.6, metrics.accuracy_score(i64(yt), i64(yp)))
    assert.are.equal(3, metrics.accuracy_score(yt, yp, {normalize = false}))
  end)

  it("confusion_matrix is int64, rows true, columns predicted", function()
    local cm, labels = metrics.confusion_matrix(i64(yt), yp)
    assert.are.equal("int64", cm:dtype())
    assert.are.same({{1, 0, 0}, {1, 0, 0}, {0, 1, 2}}, cm:totable())
    assert.are.same({0, 1, 2}, labels)
    local cm2 = metrics.confusion_matrix(yt, yp, {labels = {2, 0}})
    assert.are.same({{2, 0}, {0, 1}}, cm2:totable())
  end)

  it("precision_recall_fscore_support per class and averaged", function()
    local p, r, f, s = metrics.precision_recall_fscore_support({"cat", "cat", "dog", "fish"},
      {"cat", "dog", "dog", "dog"})
    assert.are.same({1, 1 / 3, 0}, p)      -- fish: no predictions -> 0 (zero_division warn)
    assert.are.same({0.5, 1, 0}, r)
    assert.are.same({2 / 3, 0.5, 0}, f)
    assert.are.same({2, 1, 1}, s)
    local cases = {
      {"macro", (1 + 1 / 3) / 3, 1.5 / 3, (2 / 3 + 0.5) / 3},
      {"weighted", (2 + 1 / 3) / 4, 2 / 4, (2 * (2 / 3) + 0.5) / 4},
      {"micro", 0.5, 0.5, 0.5},
    }
    for _, c in ipairs(cases) do
      local ap, ar, af, as = metrics.precision_recall_fscore_support({"cat", "cat", "dog", "fish"},
        {"cat", "dog", "dog", "dog"}, {average = c[1]})
      assert.is_true(math.abs(ap - c[2]) < 1e-15, c[1])
      assert.is_true(math.abs(ar - c[3]) < 1e-15, c[1])
      assert.is_true(math.abs(af - c[4]) < 1e-15, c[1])
      assert.is_nil(as)
    end
    local p1 = metrics.precision_recall_fscore_support({1, 2}, {1, 1}, {zero_division = 1})
    assert.are.same({0.5, 1}, p1)
  end)

  it("classification_report reproduces scikit-learn's docstring example", function()
    local want =
      "              precision    recall  f1-score   support\n" ..
      "\n" ..
      "     class 0       0.50      1.00      0.67         1\n" ..
      "     class 1       0.00      0.00      0.00         1\n" ..
      "     class 2       1.00      0.67      0.80         3\n" ..
      "\n" ..
      "    accuracy                           0.60         5\n" ..
      "   macro avg       0.50      0.56      0.49         5\n" ..
      "weighted avg       0.70      0.60      0.61         5\n"
    assert.are.equal(want, metrics.classification_report(i64(yt), i64(yp),
      {target_names = {"class 0", "class 1", "class 2"}}))
  end)

  it("classification_report with string labels and digits = 3", function()
    local want =
      "              precision    recall  f1-score   support\n" ..
      "\n" ..
      "         cat      1.000     0.500     0.667         2\n" ..
      "         dog      0.333     1.000     0.500         1\n" ..
      "        fish      0.000     0.000     0.000         1\n" ..
      "\n" ..
      "    accuracy                          0.500         4\n" ..
      "   macro avg      0.444     0.500     0.389         4\n" ..
      "weighted avg      0.583     0.500     0.458         4\n"
    assert.are.equal(want, metrics.classification_report({"cat", "cat", "dog", "fish"},
      {"cat", "dog", "dog", "dog"}, {digits = 3}))
  end)

  it("classification_report widens for long names and says micro avg for a subset of labels", function()
    local want =
      "                    precision    recall  f1-score   support\n" ..
      "\n" ..
      "a rather long name       1.00      0.50      0.67         2\n" ..
      "\n" ..
      "         micro avg       1.00      0.50      0.67         2\n" ..
      "         macro avg       1.00      0.50      0.67         2\n" ..
      "      weighted avg       1.00      0.50      0.67         2\n"
    assert.are.equal(want, metrics.classification_report({1, 1, 2}, {1, 2, 2},
      {labels = {1}, target_names = {"a rather long name"}}))
  end)

  local errors = {
    {"length", function() metrics.accuracy_score({1, 2}, {1}) end,
      "accuracy_score: y_true has 2 samples but y_pred has 1"},
    {"empty", function() metrics.accuracy_score({}, {}) end, "accuracy_score: no samples"},
    {"type", function() metrics.accuracy_score(3, {1}) end,
      "accuracy_score: y_true must be a tensor or a Lua array, got number"},
    {"nan", function() metrics.confusion_matrix({0 / 0}, {1}) end,
      "confusion_matrix: y_true contains NaN"},
    {"2-D", function() metrics.accuracy_score(lunet.zeros(2, 2), {1, 2}) end,
      "accuracy_score: y_true must be 1-D, got shape [2, 2]"},
    {"option", function() metrics.accuracy_score({1}, {1}, {normalise = true}) end,
      "accuracy_score: unknown option 'normalise'"},
    {"average", function() metrics.precision_recall_fscore_support({1}, {1}, {average = "mean"}) end,
      "precision_recall_fscore_support: average must be nil, \"binary\", \"micro\", \"macro\" or "
      .. "\"weighted\", got mean"},
    {"names", function() metrics.classification_report({1, 2}, {1, 2}, {target_names = {"a"}}) end,
      "classification_report: number of classes, 2, does not match size of target_names, 1. Try "
      .. "specifying the labels option"},
    {"one label", function() metrics.log_loss({1, 1}, {{0.5, 0.5}, {0.5, 0.5}}) end,
      "log_loss: y_true contains only one label (1). Please provide the true labels explicitly "
      .. "through the labels option"},
    {"mse shapes", function() metrics.mean_squared_error({1, 2, 3}, {1, 2}) end,
      "mean_squared_error: y_true has shape [3] but y_pred has shape [2]"},
  }
  for _, c in ipairs(errors) do
    it("raises on bad input: " .. c[1], function()
      local ok, err = pcall(c[2])
      assert.is_false(ok)
      assert.are.equal(c[3], (tostring(err):gsub("^[^:]*:%d+: ", "")))
    end)
  end
end)

describe("log_loss and regression metrics", function()
  it("log_loss as scikit-learn's docstring example", function()
    local want = -(math.log(0.9) + math.log(0.9) + math.log(0.8) + math.log(0.65)) / 4
    local got = metrics.log_loss({"spam", "ham", "ham", "spam"},
      {{0.1, 0.9}, {0.9, 0.1}, {0.8, 0.2}, {0.35, 0.65}})
    assert.is_true(math.abs(got - want) < 1e-15)
    local t = lunet.tensor({{0.1, 0.9}, {0.9, 0.1}}, {dtype = "float64"})
    assert.is_true(math.abs(metrics.log_loss(i64({1, 0}), t) + math.log(0.9)) < 1e-15)
    -- clipping at eps: a zero probability costs -log(eps), float64 eps = 2^-52
    local c = metrics.log_loss({0, 1}, {{1, 0}, {1, 0}}, {normalize = false})
    assert.is_true(math.abs(c - (-math.log(1 - 2 ^ -52) - math.log(2 ^ -52 / (1 + 2 ^ -52)))) < 1e-12)
  end)

  it("mean_squared_error, mean_absolute_error, r2_score", function()
    local yt, yp = {3, -0.5, 2, 7}, {2.5, 0.0, 2, 8}
    assert.are.equal(0.375, metrics.mean_squared_error(yt, yp))
    assert.are.equal(0.5, metrics.mean_absolute_error(yt, yp))
    assert.is_true(math.abs(metrics.r2_score(yt, yp) - (1 - 1.5 / 29.1875)) < 1e-15)
    -- tensors, two outputs: uniform average of per-output r2
    local a = lunet.tensor({{0.5, 1}, {-1, 1}, {7, -6}}, {dtype = "float64"})
    local b = lunet.tensor({{0, 2}, {-1, 2}, {8, -5}}, {dtype = "float64"})
    local r1 = 1 - (0.25 + 0 + 1) / ((0.5 - 6.5 / 3) ^ 2 + (-1 - 6.5 / 3) ^ 2 + (7 - 6.5 / 3) ^ 2)
    local r2 = 1 - 3 / ((1 + 4 / 3) ^ 2 * 2 + (-6 + 4 / 3) ^ 2)
    assert.is_true(math.abs(metrics.r2_score(a, b) - (r1 + r2) / 2) < 1e-12)
    -- constant y_true: 1 when perfect, 0 otherwise (force_finite)
    assert.are.equal(1, metrics.r2_score({2, 2}, {2, 2}))
    assert.are.equal(0, metrics.r2_score({2, 2}, {2, 3}))
  end)
end)

describe("confusion_matrix's second result", function()
  it("is the labels of the rows and columns, sorted or as given", function()
    local cm, labels = metrics.confusion_matrix({"b", "a", "c", "a"}, {"b", "c", "c", "a"})
    assert.are.same({"a", "b", "c"}, labels)
    assert.are.same({{1, 0, 1}, {0, 1, 0}, {0, 0, 1}}, cm:totable())
    cm, labels = metrics.confusion_matrix({3, 1}, {1, 1}, {labels = {3, 1}})
    assert.are.same({3, 1}, labels)
    assert.are.same({{0, 1}, {0, 1}}, cm:totable())
  end)

  it("errors name the caller's line", function()
    local f = function() metrics.accuracy_score({1}, {1, 2}) end
    local ok, e = pcall(f)
    assert.is_false(ok)
    assert.are.equal("metrics_spec.lua:" .. debug.getinfo(f, "S").linedefined
                     .. ": accuracy_score: y_true has 1 samples but y_pred has 2", tostring(e):match("[^/]*$"))
  end)
end)
