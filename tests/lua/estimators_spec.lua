-- estimators_spec.lua: lunet.MLPClassifier / lunet.MLPRegressor (lunet/estimators.lua).
local lunet = require "lunet"
local est = require "lunet.estimators"
local data = require "lunet.data"
local MLPClassifier, MLPRegressor = est.MLPClassifier, est.MLPRegressor

local function err_of(f, ...)                       -- the message without its "file:line: "
  local ok, e = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return (tostring(e):gsub("^[^:]*:%d+: ", ""))
end

local function bits_equal(a, b)                      -- same shape and the very same values
  assert.same(a:shape(), b:shape())
  assert.same(a:totable(), b:totable())
end

-- three well separated blobs in 2-D, labels 0..2
local function blobs(n_per, dtype)
  local g = lunet.Generator(7)
  local centers = {{0, 0}, {4, 4}, {-4, 4}}
  local X = lunet.randn(3 * n_per, 2, {generator = g, dtype = dtype or "float32"}) * 0.5
  local y = {}
  for c = 1, 3 do
    local rows = X:narrow(1, (c - 1) * n_per + 1, n_per)
    rows:add_(lunet.tensor(centers[c], {dtype = dtype or "float32"}))
    for i = 1, n_per do y[(c - 1) * n_per + i] = c - 1 end
  end
  return X, lunet.tensor(y, {dtype = "int64"})
end

describe("MLP parameters", function()
  it("has scikit-learn's defaults", function()
    local clf = MLPClassifier()
    assert.same({100}, clf.hidden_layer_sizes)
    assert.equal("relu", clf.activation)
    assert.equal("adam", clf.solver)
    assert.equal(1e-4, clf.alpha)
    assert.equal("auto", clf.batch_size)
    assert.equal(200, clf.max_iter)
    assert.equal(15000, clf.max_fun)
    assert.equal(10, clf.n_iter_no_change)
    assert.equal("float32", clf.dtype)
    assert.equal("MLPRegressor(max_iter=5)", tostring(MLPRegressor{max_iter = 5}))
  end)

  local cases = {
    {{activation = "reLu"}, "The 'activation' parameter of MLPClassifier must be a str among "
      .. "{'identity', 'logistic', 'relu', 'tanh'}. Got 'reLu' instead."},
    {{solver = "newton"}, "The 'solver' parameter of MLPClassifier must be a str among "
      .. "{'adam', 'lbfgs', 'sgd'}. Got 'newton' instead."},
    {{alpha = -1}, "The 'alpha' parameter of MLPClassifier must be a float in the range "
      .. "[0, inf). Got -1 instead."},
    {{max_iter = 0}, "The 'max_iter' parameter of MLPClassifier must be an int in the range "
      .. "[1, inf). Got 0 instead."},
    {{max_iter = 2.5}, "The 'max_iter' parameter of MLPClassifier must be an int in the range "
      .. "[1, inf). Got 2.5 instead."},
    {{batch_size = "big"}, "The 'batch_size' parameter of MLPClassifier must be a str among "
      .. "{'auto'} or an int in the range [1, inf). Got 'big' instead."},
    {{learning_rate_init = 0}, "The 'learning_rate_init' parameter of MLPClassifier must be a "
      .. "float in the range (0, inf). Got 0 instead."},
    {{momentum = 1.5}, "The 'momentum' parameter of MLPClassifier must be a float in the range "
      .. "[0, 1]. Got 1.5 instead."},
    {{validation_fraction = 1}, "The 'validation_fraction' parameter of MLPClassifier must be a "
      .. "float in the range [0, 1). Got 1 instead."},
    {{shuffle = 1}, "The 'shuffle' parameter of MLPClassifier must be a boolean. Got 1 instead."},
    {{random_state = -1}, "The 'random_state' parameter of MLPClassifier must be an int in the "
      .. "range [0, 4294967295], an instance of 'lunet.RandomState', an instance of "
      .. "'lunet.Generator' or nil. Got -1 instead."},
    {{dtype = "int64"}, "The 'dtype' parameter of MLPClassifier must be a str among "
      .. "{'float32', 'float64'}. Got 'int64' instead."},
    {{n_iter_no_change = 0}, "The 'n_iter_no_change' parameter of MLPClassifier must be an int "
      .. "in the range (0, inf). Got 0 instead."},
  }
  for _, c in ipairs(cases) do
    it("rejects " .. next(c[1]) .. " with scikit-learn's message", function()
      assert.equal(c[2], err_of(MLPClassifier, c[1]))
    end)
  end

  it("rejects unknown names and names the valid ones", function()
    local e = err_of(MLPRegressor, {hidden_layers = {3}})
    assert.truthy(e:find("MLPRegressor got an unexpected parameter 'hidden_layers'", 1, true))
    assert.truthy(e:find("'hidden_layer_sizes'", 1, true))
  end)

  it("checks parameters changed after construction at fit, and layer sizes", function()
    local X, y = blobs(5)
    local clf = MLPClassifier{max_iter = 1}
    clf.activation = "softplus"
    assert.truthy(err_of(clf.fit, clf, X, y):find("Got 'softplus' instead.", 1, true))
    clf = MLPClassifier{hidden_layer_sizes = {3, 0}}
    assert.equal("hidden_layer_sizes must be > 0, got [3, 0].", err_of(clf.fit, clf, X, y))
    assert.equal("The 'alpha' parameter of MLPClassifier must be a float in the range [0, inf). "
      .. "Got -2 instead.", err_of(clf.set_params, clf, {alpha = -2}))
  end)
end)

describe("MLP bad input", function()
  local X, y = blobs(5)
  it("refuses predict before fit", function()
    assert.equal("This MLPClassifier instance is not fitted yet. Call 'fit' with appropriate "
      .. "arguments before using this estimator.", err_of(MLPClassifier().predict, MLPClassifier(), X))
    local r = MLPRegressor()
    assert.equal("This MLPRegressor instance is not fitted yet. Call 'fit' with appropriate "
      .. "arguments before using this estimator.", err_of(r.score, r, X, lunet.zeros(15)))
  end)
  it("refuses X and y of different lengths", function()
    local clf = MLPClassifier{max_iter = 1}
    assert.equal("Found input variables with inconsistent numbers of samples: [15, 14]",
      err_of(clf.fit, clf, X, y:narrow(1, 1, 14)))
  end)
  it("refuses a single class", function()
    local clf = MLPClassifier{max_iter = 1}
    assert.equal("MLPClassifier needs samples of at least 2 classes in the data, but the data "
      .. "contains only one class: 0", err_of(clf.fit, clf, X, lunet.zeros(15, {dtype = "int64"})))
  end)
  it("refuses NaN and infinity", function()
    local bad = X:clone()
    bad[2][1] = 0 / 0
    local clf = MLPClassifier{max_iter = 1}
    assert.equal("Input X contains NaN.", err_of(clf.fit, clf, bad, y))
    bad[2][1] = math.huge
    assert.equal("Input X contains infinity or a value too large for dtype('float32').",
      err_of(clf.fit, clf, bad, y))
    local r = MLPRegressor{max_iter = 1}
    local yr = lunet.zeros(15)
    yr[3] = 0 / 0
    assert.equal("Input y contains NaN.", err_of(r.fit, r, X, yr))
  end)
  it("refuses 1-D X and a wrong feature count at predict", function()
    local clf = MLPClassifier{max_iter = 1, random_state = 0}
    assert.truthy(err_of(clf.fit, clf, lunet.zeros(15), y):find("Expected 2D array, got 1D", 1, true))
    clf:fit(X, y)
    assert.equal("X has 3 features, but MLPClassifier is expecting 2 features as input.",
      err_of(clf.predict, clf, lunet.zeros(4, 3)))
  end)
  it("partial_fit needs classes first and a stochastic solver", function()
    local clf = MLPClassifier()
    assert.equal("classes must be passed on the first call to partial_fit.",
      err_of(clf.partial_fit, clf, X, y))
    local l = MLPClassifier{solver = "lbfgs"}
    assert.equal("partial_fit is only available for stochastic optimizers. lbfgs is not stochastic.",
      err_of(l.partial_fit, l, X, y, {0, 1, 2}))
    clf:partial_fit(X, y, {0, 1, 2})
    assert.equal("`y` has classes not in `self.classes_`. `self.classes_` has [0 1 2]. "
      .. "'y' has [0 1 2 3].", err_of(clf.partial_fit, clf, lunet.zeros(4, 2), {0, 1, 2, 3}))
  end)
end)

describe("MLPClassifier", function()
  it("sets scikit-learn's fitted attributes", function()
    local X, y = blobs(20)
    local clf = MLPClassifier{hidden_layer_sizes = {8, 4}, max_iter = 100, random_state = 1,
                              learning_rate_init = 0.05}
    clf:fit(X, y)
    assert.equal(4, clf.n_layers_)
    assert.equal(3, clf.n_outputs_)
    assert.equal("softmax", clf.out_activation_)
    assert.same({0, 1, 2}, clf.classes_:totable())
    assert.same({2, 8}, clf.coefs_[1]:shape())       -- fan_in × fan_out
    assert.same({8, 4}, clf.coefs_[2]:shape())
    assert.same({4, 3}, clf.coefs_[3]:shape())
    assert.same({3}, clf.intercepts_[3]:shape())
    assert.equal(clf.n_iter_, #clf.loss_curve_)
    assert.equal(clf.n_iter_ * 60, clf.t_)
    assert.equal(clf.loss_curve_[#clf.loss_curve_], clf.loss_)
    local best = math.huge
    for _, l in ipairs(clf.loss_curve_) do best = math.min(best, l) end
    assert.equal(best, clf.best_loss_)
    assert.is_nil(clf.validation_scores_)
    assert.equal("float32", clf.coefs_[1]:dtype())
    local P = clf:predict_proba(X)
    assert.same({60, 3}, P:shape())
    for _, s in ipairs(P:sum(2):totable()) do assert.near(1, s, 1e-5) end
    local LP = clf:predict_log_proba(X)
    assert.near(math.log(P[5][2]), LP[5][2], 1e-5)
    assert.equal(1, clf:score(X, y))
    assert.same(y:totable(), clf:predict(X):totable())
  end)

  it("initializes weights and biases Glorot-uniform", function()
    local X, y = blobs(5)
    for _, act in ipairs{"relu", "logistic"} do
      local clf = MLPClassifier{hidden_layer_sizes = {300}, activation = act, max_iter = 1,
                                solver = "sgd", learning_rate_init = 1e-300, momentum = 0,
                                random_state = 3, dtype = "float64"}
      clf:partial_fit(X, y, {0, 1, 2})              -- one step of 1e-300: the initial weights
      local bound = math.sqrt((act == "logistic" and 2 or 6) / (2 + 300))
      for _, t in ipairs{clf.coefs_[1], clf.intercepts_[1]} do
        local lo, hi = t:min():item(), t:max():item()
        assert.is_true(lo >= -bound and hi <= bound)
        assert.is_true(lo < -0.9 * bound and hi > 0.9 * bound)
      end
    end
  end)

  -- One full-batch step from the initial weights W0 of a linear softmax model, against the
  -- gradient written out by hand: g = X^T (P - Y)/n + alpha W0/n.
  local function one_step(opts)
    local X, y = blobs(4, "float64")
    local base = {hidden_layer_sizes = {}, random_state = 5, dtype = "float64", shuffle = false,
                  alpha = 0.5}
    local function make(o)
      local t = {}
      for k, v in pairs(base) do t[k] = v end
      for k, v in pairs(o) do t[k] = v end
      return MLPClassifier(t)
    end
    local c0 = make{solver = "sgd", momentum = 0, learning_rate_init = 1e-300}
    c0:partial_fit(X, y, {0, 1, 2})
    local W0, b0 = c0.coefs_[1]:detach():clone(), c0.intercepts_[1]:detach():clone()
    local c1 = make(opts)
    c1:partial_fit(X, y, {0, 1, 2})
    local n = X:size(1)
    local Z = lunet.matmul(X, W0) + b0
    local E = (Z - Z:max(2, true)):exp()
    local P = E / E:sum(2, true)
    local Y = lunet.zeros(n, 3, {dtype = "float64"})
    for i, c in ipairs(y:totable()) do Y[i][c + 1] = 1 end
    local gW = lunet.matmul(X:t(), P - Y) / n + W0 * (0.5 / n)
    local gb = (P - Y):mean(1)
    return W0, b0, gW, gb, c1
  end

  local function assert_close(expected, got, tol)
    local e, g = expected:totable(), got:totable()
    for i = 1, #e do
      if type(e[i]) == "table" then
        for j = 1, #e[i] do assert.near(e[i][j], g[i][j], tol) end
      else assert.near(e[i], g[i], tol) end
    end
  end

  it("steps Adam with epsilon added to the uncorrected sqrt(v)", function()
    local lr, eps = 0.01, 0.5                        -- a large epsilon tells the two rules apart
    local W0, b0, gW, gb, c1 = one_step{solver = "adam", learning_rate_init = lr, epsilon = eps}
    local function expect(p0, g)
      local m, v = g * 0.1, g * g * 0.001
      local lr_t = lr * math.sqrt(1 - 0.999) / (1 - 0.9)
      return p0 - m / (v:sqrt() + eps) * lr_t
    end
    assert_close(expect(W0, gW), c1.coefs_[1], 1e-12)
    assert_close(expect(b0, gb), c1.intercepts_[1], 1e-12)
  end)

  it("steps SGD with scikit-learn's Nesterov momentum", function()
    local lr, mu = 0.1, 0.9
    local W0, b0, gW, gb, c1 = one_step{solver = "sgd", learning_rate_init = lr, momentum = mu}
    assert_close(W0 - gW * ((1 + mu) * lr), c1.coefs_[1], 1e-12)
    assert_close(b0 - gb * ((1 + mu) * lr), c1.intercepts_[1], 1e-12)
  end)

  it("solves XOR with lbfgs", function()
    local X = lunet.tensor({{0, 0}, {0, 1}, {1, 0}, {1, 1}})
    local y = {0, 1, 1, 0}
    local clf = MLPClassifier{hidden_layer_sizes = {8}, activation = "tanh", solver = "lbfgs",
                              alpha = 1e-5, random_state = 1, dtype = "float64"}
    clf:fit(X, y)
    assert.same(y, clf:predict(X))                   -- Lua array in, Lua array out
    assert.equal("logistic", clf.out_activation_)
    assert.equal(1, clf.n_outputs_)
    assert.is_true(clf.loss_ < 0.01)
    assert.is_true(clf.n_iter_ >= 1 and clf.n_iter_ <= 200)
    assert.same({4, 2}, clf:predict_proba(X):shape())
  end)

  it("handles string labels and binary problems", function()
    local X, y = blobs(10)
    local names = {}
    for i, c in ipairs(y:totable()) do names[i] = c == 0 and "cat" or "dog" end
    local clf = MLPClassifier{hidden_layer_sizes = {10}, solver = "lbfgs", random_state = 0}
    clf:fit(X, names)
    assert.same({"cat", "dog"}, clf.classes_)
    assert.same(names, clf:predict(X))
    assert.equal(1, clf:score(X, names))
  end)

  it("stops early by scikit-learn's rule and restores the best weights", function()
    local X, y = blobs(40)
    local clf = MLPClassifier{hidden_layer_sizes = {16}, early_stopping = true, random_state = 2,
                              max_iter = 300, n_iter_no_change = 5, tol = 1e-3,
                              learning_rate_init = 0.01}
    clf:fit(X, y)
    local vs = clf.validation_scores_
    assert.equal(clf.n_iter_, #vs)
    assert.is_true(clf.n_iter_ < 300)
    -- replay _update_no_improvement_count: training must stop at the first count > 5
    local best, count, stop = -math.huge, 0, nil
    for i, s in ipairs(vs) do
      if s < best + 1e-3 then count = count + 1 else count = 0 end
      if s > best then best = s end
      if count > 5 then stop = i; break end
    end
    assert.equal(clf.n_iter_, stop)
    assert.equal(best, clf.best_validation_score_)
    assert.is_nil(clf.best_loss_)
    for i, W in ipairs(clf.coefs_) do bits_equal(clf._best_coefs[i], W:detach()) end
    for i, b in ipairs(clf.intercepts_) do bits_equal(clf._best_intercepts[i], b:detach()) end
  end)

  it("warm_start continues, a cold refit starts over", function()
    local X, y = blobs(10)
    local clf = MLPClassifier{hidden_layer_sizes = {6}, max_iter = 3, random_state = 4}
    clf:fit(X, y)
    local first = clf.coefs_[1]:detach():clone()
    clf:fit(X, y)                                    -- no warm start: the same fit again
    bits_equal(first, clf.coefs_[1]:detach())
    assert.equal(3, clf.n_iter_)
    clf.warm_start = true
    clf:fit(X, y)
    assert.equal(6, clf.n_iter_)
    assert.equal(6, #clf.loss_curve_)
    assert.is_true(clf.coefs_[1]:ne(first):sum():item() > 0)
    assert.equal("warm_start can only be used where `y` has the same classes as in the previous "
      .. "call to fit. Previously got [0 1 2], `y` has [0 1]",
      err_of(clf.fit, clf, X:narrow(1, 1, 20), y:narrow(1, 1, 20)))
  end)

  it("partial_fit runs one epoch per call", function()
    local X, y = blobs(10)
    local clf = MLPClassifier{hidden_layer_sizes = {6}, random_state = 4, batch_size = 7}
    clf:partial_fit(X, y, {0, 1, 2})
    assert.equal(1, clf.n_iter_)
    assert.equal(30, clf.t_)
    clf:partial_fit(X:narrow(1, 1, 10), y:narrow(1, 1, 10))  -- a subset of the classes is fine
    assert.equal(2, clf.n_iter_)
    assert.equal(40, clf.t_)
    assert.equal(2, #clf.loss_curve_)
  end)

  it("is deterministic given random_state, and runs in float64", function()
    local X, y = blobs(10)
    local a = MLPClassifier{hidden_layer_sizes = {5}, max_iter = 5, random_state = 9}:fit(X, y)
    local b = MLPClassifier{hidden_layer_sizes = {5}, max_iter = 5, random_state = 9}:fit(X, y)
    for i = 1, 2 do bits_equal(a.coefs_[i]:detach(), b.coefs_[i]:detach()) end
    assert.same(a.loss_curve_, b.loss_curve_)
    local c = MLPClassifier{hidden_layer_sizes = {5}, max_iter = 100, random_state = 9,
                            learning_rate_init = 0.05, dtype = "float64"}:fit(X, y)
    assert.equal("float64", c.coefs_[1]:dtype())
    assert.equal("float64", c:predict_proba(X):dtype())
    assert.equal(1, c:score(X, y))
  end)

  it("takes a data.RandomState as random_state and continues its stream, as scikit-learn", function()
    local X, y = blobs(10)
    local function fit(rs)
      return MLPClassifier{hidden_layer_sizes = {5}, max_iter = 3, random_state = rs,
                           dtype = "float64"}:fit(X, y)
    end
    local rs = data.RandomState(9)
    local first, second, seeded = fit(rs), fit(rs), fit(9)
    assert.same(seeded.loss_curve_, first.loss_curve_)     -- RandomState(9) is random_state = 9
    assert.are_not.same(first.loss_curve_, second.loss_curve_)
    -- a lunet.Generator seeds a RandomState from its own stream: reproducible from its seed
    local g1, g2 = fit(lunet.Generator(5)), fit(lunet.Generator(5))
    assert.same(g1.loss_curve_, g2.loss_curve_)
  end)

  it("reaches 0.96 on digits (random_state=42), as scikit-learn", function()
    local X, y = data.load_digits()
    local Xtr, Xte, ytr, yte = data.train_test_split(X, y, {test_size = 0.2, random_state = 42,
                                                            stratify = y})
    local sc = data.StandardScaler()
    Xtr, Xte = sc:fit_transform(Xtr), sc:transform(Xte)
    local clf = MLPClassifier{hidden_layer_sizes = {128, 64}, max_iter = 500, random_state = 42,
                              early_stopping = true, validation_fraction = 0.1}
    clf:fit(Xtr, ytr)
    assert.is_true(clf:score(Xte, yte) >= 0.96)
    assert.is_true(clf.n_iter_ > 11 and clf.n_iter_ < 500)
  end)
end)

describe("MLPRegressor", function()
  local g = lunet.Generator(11)
  local X = lunet.randn(100, 3, {generator = g, dtype = "float64"})
  local w = lunet.tensor({{1.5}, {-2}, {0.5}}, {dtype = "float64"})
  local y = (lunet.matmul(X, w) + 0.25):reshape(-1)

  it("fits a linear function to near-zero loss (lbfgs, identity)", function()
    local r = MLPRegressor{hidden_layer_sizes = {}, activation = "identity", solver = "lbfgs",
                           alpha = 0, tol = 1e-10, dtype = "float64", random_state = 0}
    r:fit(X, y)
    assert.is_true(r.loss_ < 1e-10)
    assert.near(1.5, r.coefs_[1][1][1], 1e-4)
    assert.near(0.25, r.intercepts_[1][1], 1e-4)
    assert.near(1, r:score(X, y), 1e-8)
    assert.equal("identity", r.out_activation_)
    assert.same({100}, r:predict(X):shape())
  end)

  it("fits it with adam and a hidden identity layer, multi-output too", function()
    local Y = lunet.cat({y:view(-1, 1), (y * -1):view(-1, 1)}, 2)
    local r = MLPRegressor{hidden_layer_sizes = {4}, activation = "identity", max_iter = 2000,
                           learning_rate_init = 0.01, random_state = 0, tol = 1e-7}
    r:fit(X, Y)
    assert.equal(2, r.n_outputs_)
    assert.same({100, 2}, r:predict(X):shape())
    assert.is_true(r:score(X, Y) > 0.999)
  end)

  it("scores R² as scikit-learn", function()
    local r = MLPRegressor{hidden_layer_sizes = {}, activation = "identity", solver = "lbfgs",
                           dtype = "float64", random_state = 0}
    r:fit(X, y)
    local p = r:predict(X)
    local yt = y:totable()
    local mean = 0
    for _, v in ipairs(yt) do mean = mean + v / #yt end
    local res, tot = 0, 0
    for i, v in ipairs(yt) do res = res + (v - p[i]) ^ 2; tot = tot + (v - mean) ^ 2 end
    assert.near(1 - res / tot, r:score(X, y), 1e-12)
  end)
end)

describe("lbfgs", function()
  it("minimizes the Rosenbrock function", function()
    local function fg(x)
      local a, b = x[1], x[2]
      local f = (1 - a) ^ 2 + 100 * (b - a * a) ^ 2
      local g = lunet.tensor({-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)},
                             {dtype = "float64"})
      return f, g
    end
    local r = est.lbfgs(fg, lunet.tensor({-1.2, 1}, {dtype = "float64"}),
                        {maxiter = 200, maxfun = 1000, gtol = 1e-8, ftol = 0})
    assert.equal(0, r.status)
    assert.near(1, r.x[1], 1e-6)
    assert.near(1, r.x[2], 1e-6)
    assert.is_true(r.nit < 100)
  end)
end)

describe("saving and loading", function()
  local path
  before_each(function() path = os.tmpname() end)
  after_each(function() os.remove(path) end)

  it("a fitted classifier predicts identically after load, with its fields", function()
    local X, y = blobs(20)
    local clf = lunet.MLPClassifier{hidden_layer_sizes = {5, 4}, max_iter = 30, random_state = 1,
                                    early_stopping = true, n_iter_no_change = 50}
    clf:fit(X, y)
    assert.are.equal(clf, clf:save(path))
    local c2 = lunet.MLPClassifier.load(path)
    assert.are.equal("MLPClassifier", getmetatable(c2).__name)
    bits_equal(clf:predict_proba(X), c2:predict_proba(X))
    bits_equal(clf:predict(X), c2:predict(X))
    assert.are.same(clf.classes_:totable(), c2.classes_:totable())
    assert.are.same(clf.loss_curve_, c2.loss_curve_)
    assert.are.same(clf.validation_scores_, c2.validation_scores_)
    for _, k in ipairs{"n_iter_", "t_", "n_layers_", "n_outputs_", "n_features_in_", "loss_",
                       "best_validation_score_", "out_activation_", "random_state", "max_iter"} do
      assert.are.equal(clf[k], c2[k], k)
      assert.are.equal(math.type(clf[k]), math.type(c2[k]), k)
    end
    assert.are.same({5, 4}, c2.hidden_layer_sizes)
    assert.is_nil(c2.best_loss_)
    assert.are.equal(tostring(clf), tostring(c2))
  end)

  it("keeps string labels and binary targets; lunet.save(path, clf) writes the same", function()
    local X = lunet.tensor{{0, 0}, {0, 1}, {3, 3}, {3, 4}, {0, 0.5}, {3, 3.5}}
    local y = {"no", "no", "yes", "yes", "no", "yes"}
    local clf = lunet.MLPClassifier{hidden_layer_sizes = {3}, max_iter = 5, random_state = 0}
    clf:fit(X, y)
    lunet.save(path, clf)                            -- through state_dict, as for a module
    local c2 = lunet.MLPClassifier.load(path)
    assert.are.same({"no", "yes"}, c2.classes_)
    assert.are.same(clf:predict(X), c2:predict(X))
    bits_equal(clf:predict_proba(X), c2:predict_proba(X))
    assert.are.equal(clf.best_loss_, c2.best_loss_)
    -- the optimizer is not saved; partial_fit goes on with a fresh one
    assert.is_nil(c2._optimizer)
    c2:partial_fit(X, y)
    assert.are.equal(clf.n_iter_ + 1, c2.n_iter_)
    assert.are.equal(#clf.loss_curve_ + 1, #c2.loss_curve_)
    -- the weights are tensors in the file, the rest is metadata
    local ts, meta = lunet._io.load_tensors(path)
    assert.are.same({3, 1}, ts["coefs_.2"]:shape())
    assert.are.same({3}, ts["intercepts_.1"]:shape())
    assert.are.equal("MLPClassifier", meta.estimator)
    assert.are.equal("relu", meta["params.activation"])
    assert.is_nil(ts["_optimizer"])
  end)

  it("a regressor round-trips; an unfitted estimator loads unfitted", function()
    local X = lunet.linspace(-1, 1, 20):view(20, 1)
    local y = (X * 3):reshape(-1)
    local r = lunet.MLPRegressor{hidden_layer_sizes = {4}, solver = "lbfgs", max_iter = 50,
                                 random_state = 3, dtype = "float64", alpha = 0.01}
    r:fit(X, y)
    r:save(path)
    local r2 = lunet.MLPRegressor.load(path)
    assert.are.equal("float64", r2.coefs_[1]:dtype())
    bits_equal(r:predict(X), r2:predict(X))
    assert.are.equal(0.01, r2.alpha)
    lunet.MLPRegressor{max_iter = 7}:save(path)
    local u = lunet.MLPRegressor.load(path)
    assert.are.equal(7, u.max_iter)
    assert.is_nil(u.coefs_)
    assert.matches("not fitted yet", err_of(u.predict, u, X))
  end)

  it("refuses a file written by another estimator type or by something else", function()
    lunet.MLPRegressor{}:save(path)
    assert.are.equal("MLPClassifier.load: '" .. path .. "': the file was written by MLPRegressor, "
                     .. "not MLPClassifier", err_of(lunet.MLPClassifier.load, path))
    lunet.save(path, {w = lunet.ones(2)})
    assert.are.equal("MLPRegressor.load: '" .. path .. "': not a saved estimator (no 'estimator' "
                     .. "entry; write one with est:save(path))", err_of(lunet.MLPRegressor.load, path))
    assert.are.equal("load_safetensors: cannot open '/nonexistent/e.safetensors': No such file or "
                     .. "directory", err_of(lunet.MLPClassifier.load, "/nonexistent/e.safetensors"))
    assert.are.equal("MLPClassifier.load: path must be a string, got nil",
                     err_of(lunet.MLPClassifier.load))
  end)
end)

describe("errors", function()
  it("name the caller's line, however deep the check runs", function()
    local clf = lunet.MLPClassifier{}
    local line = debug.getinfo(1, "l").currentline + 1
    local ok, e = pcall(function() clf:predict(lunet.zeros(2, 2)) end)
    assert.is_false(ok)
    assert.matches("estimators_spec%.lua:" .. line .. ": This MLPClassifier instance is not fitted", e)
    line = debug.getinfo(1, "l").currentline + 1
    ok, e = pcall(function() lunet.MLPClassifier{activation = "x"} end)
    assert.matches("estimators_spec%.lua:" .. line .. ": The 'activation' parameter", e)
  end)
end)
