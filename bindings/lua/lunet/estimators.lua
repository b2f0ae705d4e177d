-- lunet/estimators.lua: scikit-learn's MLPClassifier and MLPRegressor on Lunet tensors.
--
--   local clf = lunet.MLPClassifier{hidden_layer_sizes = {128, 64}, random_state = 42}
--   clf:fit(X, y)                 -- X: N×F tensor (or nested tables), y: labels
--   local y_pred = clf:predict(X_test)
--
-- The training algorithm is scikit-learn 1.2's (sklearn/neural_network/_multilayer_perceptron.py)
-- step for step: Glorot-uniform weights and biases, shuffled minibatches of min(200, n) with the
-- last short batch kept, the loss of the output activation plus alpha/(2·batch)·ΣW², its Adam
-- (ε added to the uncorrected √v) and momentum SGD, the learning-rate schedules, early stopping
-- on a validation split (stratified for binary targets only, as 1.2.1 does) and the
-- n_iter_no_change rule, and L-BFGS for "lbfgs".
-- Gradients come from Lunet's autograd. Coefficients are kept in scikit-learn's layout
-- (coefs_[i] is fan_in×fan_out) so y = x·W + b is one matmul and one add per layer.
-- Random numbers come from NumPy's legacy generator (lunet.data.RandomState) drawn in
-- scikit-learn's order (each layer's coef then intercept, the early-stopping split, one shuffle
-- of the sample indices per epoch), so a random_state gives scikit-learn's weights, split and
-- batches: with dtype = "float64" a fit follows scikit-learn 1.2.1's to rounding (the same
-- n_iter_ and predictions, loss_curve_ to ~1e-15 on digits). The log loss is computed from the logits
-- without clipping probabilities at the dtype's epsilon (a difference only for probabilities
-- within an epsilon of 0).

local lunet = require "lunet"
local raise = require("lunet.util").raise
local nn = lunet.nn

local error, type, pairs, ipairs, tostring = error, type, pairs, ipairs, tostring
local setmetatable, getmetatable, pcall, require = setmetatable, getmetatable, pcall, require
local math, string, table, io = math, string, table, io
local huge, sqrt, floor, min, max, abs = math.huge, math.sqrt, math.floor, math.min, math.max, math.abs
local fmt, concat = string.format, table.concat

_ENV = nil

local M = {}

----------------------------------------------------------------------------------------------
-- Parameter validation, worded as scikit-learn's _param_validation
----------------------------------------------------------------------------------------------

local function repr(v)                              -- Python-like repr for messages
  if type(v) == "string" then return "'" .. v .. "'" end
  if type(v) == "table" then
    local parts = {}
    for i = 1, #v do parts[i] = repr(v[i]) end
    return "{" .. concat(parts, ", ") .. "}"
  end
  return tostring(v)
end

local function is_int(v)
  return type(v) == "number" and v == v and v ~= huge and v ~= -huge and v == floor(v)
end

local function str_among(...)
  local opts = {...}
  table.sort(opts)
  local set, shown = {}, {}
  for i, o in ipairs(opts) do set[o] = true; shown[i] = repr(o) end
  return { str = "a str among {" .. concat(shown, ", ") .. "}",
           ok = function(v) return type(v) == "string" and set[v] == true end }
end

-- Interval(type, left, right, closed) with closed in "left", "right", "both", "neither".
local function interval(kind, left, right, closed)
  local lc = closed == "left" or closed == "both"
  local rc = closed == "right" or closed == "both"
  local str = fmt("%s in the range %s%s, %s%s", kind == "int" and "an int" or "a float",
                  lc and "[" or "(", left and tostring(left) or "-inf",
                  right and tostring(right) or "inf", rc and "]" or ")")
  return { str = str, ok = function(v)
    if type(v) ~= "number" or v ~= v then return false end
    if kind == "int" and not is_int(v) then return false end
    if left and (v < left or (not lc and v == left)) then return false end
    if right and (v > right or (not rc and v == right)) then return false end
    return true
  end }
end

local boolean = { str = "a boolean", ok = function(v) return type(v) == "boolean" end }
local sizes = { str = "a table of ints", ok = function(v) return type(v) == "table" end }
local nil_ok = { str = "nil", ok = function(v) return v == nil end }
local function instance_of(name)
  return { str = "an instance of '" .. name .. "'", ok = function(v)
    local mt = type(v) == "userdata" and getmetatable(v)
    return type(mt) == "table" and mt.__name == name
  end }
end

-- name, default, constraints (valid when one of them holds)
local PARAMS = {
  {"hidden_layer_sizes", {100}, {sizes, interval("int", 1, nil, "left")}},
  {"activation", "relu", {str_among("identity", "logistic", "tanh", "relu")}},
  {"solver", "adam", {str_among("lbfgs", "sgd", "adam")}},
  {"alpha", 1e-4, {interval("real", 0, nil, "left")}},
  {"batch_size", "auto", {str_among("auto"), interval("int", 1, nil, "left")}},
  {"learning_rate", "constant", {str_among("constant", "invscaling", "adaptive")}},
  {"learning_rate_init", 1e-3, {interval("real", 0, nil, "neither")}},
  {"power_t", 0.5, {interval("real", 0, nil, "left")}},
  {"max_iter", 200, {interval("int", 1, nil, "left")}},
  {"shuffle", true, {boolean}},
  {"random_state", nil, {interval("int", 0, 4294967295, "both"),
                            instance_of("lunet.RandomState"), instance_of("lunet.Generator"), nil_ok}},
  {"tol", 1e-4, {interval("real", 0, nil, "left")}},
  {"verbose", false, {interval("int", 0, nil, "left"), boolean}},
  {"warm_start", false, {boolean}},
  {"momentum", 0.9, {interval("real", 0, 1, "both")}},
  {"nesterovs_momentum", true, {boolean}},
  {"early_stopping", false, {boolean}},
  {"validation_fraction", 0.1, {interval("real", 0, 1, "left")}},
  {"beta_1", 0.9, {interval("real", 0, 1, "left")}},
  {"beta_2", 0.999, {interval("real", 0, 1, "left")}},
  {"epsilon", 1e-8, {interval("real", 0, nil, "neither")}},
  {"n_iter_no_change", 10, {interval("int", 0, nil, "neither")}},
  {"max_fun", 15000, {interval("int", 0, nil, "neither")}},
  {"dtype", "float32", {str_among("float32", "float64")}},
}
local PARAM_INDEX = {}
for i, p in ipairs(PARAMS) do PARAM_INDEX[p[1]] = i end

local function copy_default(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for i = 1, #v do c[i] = v[i] end
  return c
end

local function validate_params(self)
  for _, p in ipairs(PARAMS) do
    local name, cons = p[1], p[3]
    local v, ok = self[name], false
    for _, c in ipairs(cons) do
      if c.ok(v) then ok = true; break end
    end
    if not ok then
      local s = cons[1].str
      if #cons > 1 then
        local parts = {}
        for i = 1, #cons - 1 do parts[i] = cons[i].str end
        s = concat(parts, ", ") .. " or " .. cons[#cons].str
      end
      raise(fmt("The '%s' parameter of %s must be %s. Got %s instead.",
                name, self._name, s, repr(v)))
    end
  end
end

-- hidden_layer_sizes as a plain list; scikit-learn's "must be > 0" check.
local function hidden_sizes(self)
  local h = self.hidden_layer_sizes
  if type(h) == "number" then h = {h} end
  local list, bad = {}, false
  for i = 1, #h do
    if not is_int(h[i]) or h[i] <= 0 then bad = true end
    list[i] = h[i]
  end
  for k in pairs(h) do
    if type(k) ~= "number" or k < 1 or k > #h or k ~= floor(k) then bad = true end
  end
  if bad then
    local parts = {}
    for i = 1, #h do parts[i] = tostring(h[i]) end
    raise(fmt("hidden_layer_sizes must be > 0, got [%s].", concat(parts, ", ")))
  end
  return list
end

----------------------------------------------------------------------------------------------
-- Input checks
----------------------------------------------------------------------------------------------

local function is_tensor(v)
  if type(v) ~= "userdata" then return false end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__name == "lunet.Tensor"
end

local function warn(msg) io.stderr:write(msg, "\n") end

-- Raises scikit-learn's message when t holds NaN or infinity (one reduction when it does not).
local function check_finite(t, what)
  local s = t:sum():item()
  if s == s and s ~= huge and s ~= -huge then return end
  if t:ne(t):sum():item() > 0 then raise(fmt("Input %s contains NaN.", what)) end
  if t:abs():eq(huge):sum():item() > 0 then
    raise(fmt("Input %s contains infinity or a value too large for dtype('%s').",
              what, t:dtype()))
  end
end

local function as_tensor(v, dtype, what)
  if is_tensor(v) then return v end
  if type(v) == "table" then return lunet.tensor(v, {dtype = dtype}) end
  raise(fmt("%s must be a tensor or a table of numbers, got %s", what, type(v)))
end

-- X as a 2-D tensor of the estimator's dtype with no NaN/inf.
local function check_X(self, X)
  X = as_tensor(X, self.dtype, "X")
  if X:dim() ~= 2 then
    raise(fmt("Expected 2D array, got %dD array instead. Reshape your data either using "
              .. "X:reshape(-1, 1) if your data has a single feature or X:reshape(1, -1) if it "
              .. "contains a single sample.", X:dim()))
  end
  if X:size(1) < 1 then
    raise(fmt("Found array with 0 sample(s) (shape=(0, %d)) while a minimum of 1 is required by %s.",
              X:size(2), self._name))
  end
  if X:dtype() ~= self.dtype then X = X:to(self.dtype) end
  check_finite(X, "X")
  return X
end

local function check_consistent(X, n)
  if X:size(1) ~= n then
    raise(fmt("Found input variables with inconsistent numbers of samples: [%d, %d]",
              X:size(1), n))
  end
end

local function check_fitted(self)
  if self.coefs_ == nil then
    raise(fmt("This %s instance is not fitted yet. Call 'fit' with appropriate arguments "
              .. "before using this estimator.", self._name))
  end
end

local function check_features(self, X)
  if X:size(2) ~= self.n_features_in_ then
    raise(fmt("X has %d features, but %s is expecting %d features as input.",
              X:size(2), self._name, self.n_features_in_))
  end
end

----------------------------------------------------------------------------------------------
-- Labels: classes_ is the sorted list of distinct labels (a tensor of y's dtype when y is a
-- tensor, a Lua array otherwise); targets are 1-based class ids.
----------------------------------------------------------------------------------------------

local function labels_list(y)
  if is_tensor(y) then
    if y:dim() == 2 and y:size(2) == 1 then y = y:reshape(-1) end
    if y:dim() ~= 1 then raise("y should be a 1d array, got an array of shape "
                              .. repr(y:shape()) .. " instead.") end
    return y:totable(), y:dtype()
  end
  if type(y) ~= "table" then raise("y must be a tensor or a Lua array of labels, got " .. type(y)) end
  return y, nil
end

local function sorted_unique(list)
  local seen, out, kind = {}, {}, nil
  for i = 1, #list do
    local v = list[i]
    if v ~= v then raise("Input y contains NaN.") end
    local k = type(v)
    if k ~= "number" and k ~= "string" then raise("labels must be numbers or strings, got " .. k) end
    if kind and k ~= kind then raise("labels must be all numbers or all strings") end
    kind = k
    if not seen[v] then seen[v] = true; out[#out + 1] = v end
  end
  table.sort(out)
  return out
end

local function classes_str(c)
  local list = is_tensor(c) and c:totable() or c
  local parts = {}
  for i = 1, #list do parts[i] = type(list[i]) == "string" and repr(list[i]) or tostring(list[i]) end
  return "[" .. concat(parts, " ") .. "]"
end

-- The class ids (1-based) of a label list; unknown labels give 0 (lenient) or an error.
local function encode(classes_list, list, lenient)
  local index = {}
  for i = 1, #classes_list do index[classes_list[i]] = i end
  local ids = {}
  for i = 1, #list do
    local id = index[list[i]]
    if not id then
      if not lenient then raise(fmt("y contains previously unseen labels: %s", repr(list[i]))) end
      id = 0
    end
    ids[i] = id
  end
  return lunet.tensor(ids, {dtype = "int64"})
end

local function make_classes(list, dtype)
  if dtype then return lunet.tensor(list, {dtype = dtype}) end
  return list
end

-- classes_ from the sorted distinct labels (scikit-learn's check: at least two of them)
local function set_classes(self, uniq, ldtype)
  if #uniq < 2 then
    raise(fmt("%s needs samples of at least 2 classes in the data, but the data contains "
              .. "only one class: %s", self._name, repr(uniq[1])))
  end
  self.classes_ = make_classes(uniq, ldtype)
  self._multilabel = false
end

local function classes_as_list(c) return is_tensor(c) and c:totable() or c end

----------------------------------------------------------------------------------------------
-- Activations, the forward pass and the objective
----------------------------------------------------------------------------------------------

local ACT = {
  identity = function(t) return t end,
  relu = function(t) return t:relu() end,
  tanh = function(t) return t:tanh() end,
  logistic = function(t) return t:sigmoid() end,
}
local SUM = {reduction = "sum"}

-- The output layer's pre-activation z = a·W + b (scikit-learn's activations[-1] before
-- out_activation_). W is stored fan_in×fan_out as scikit-learn's coefs_, which is addmm's layout:
-- one op per layer, no transposed view in the graph.
local addmm = lunet.addmm
local function forward(self, x)
  local W, b = self.coefs_, self.intercepts_
  local act, a = ACT[self.activation], x
  for i = 1, #W - 1 do a = act(addmm(b[i], a, W[i])) end
  return addmm(b[#W], a, W[#W])
end

local function sum_squares(W)                      -- ΣW² as dot products: nothing allocated
  local s = 0.0
  for i = 1, #W do
    local v = W[i]:view(-1)
    s = s + v:dot(v):item()
  end
  return s
end

-- The batch objective: the loss of out_activation_ as a tensor to backpropagate, the value
-- of the whole objective (plus alpha/(2n)·ΣW², whose gradient add_l2_grad adds after backward,
-- outside the graph), and the value scikit-learn reports (for multi-output regression its
-- squared loss is a mean over outputs too, so the reported data term divides by n_outputs_).
local function objective(self, x, t, n)
  local z = forward(self, x)
  local out, data = self.out_activation_, nil
  if out == "softmax" then
    data = nn.cross_entropy(z, t)
  elseif out == "logistic" then
    data = nn.binary_cross_entropy_with_logits(z, t, SUM) * (1 / n)
  else
    data = nn.mse_loss(z, t, SUM) * (0.5 / n)
  end
  local d = data:item()
  local reg = self.alpha > 0 and lunet.no_grad(sum_squares, self.coefs_) * (0.5 * self.alpha / n) or 0
  local reported = d
  if out == "identity" and self.n_outputs_ > 1 then reported = d / self.n_outputs_ end
  return data, d + reg, reported + reg
end

-- d/dW of alpha/(2n)·ΣW² is (alpha/n)·W, added straight into the gradients.
local function l2_grad(W, scale)
  for i = 1, #W do
    local g = W[i].grad
    if g then g:add_(W[i], scale) end
  end
end
local function add_l2_grad(self, n)
  if self.alpha > 0 then lunet.no_grad(l2_grad, self.coefs_, self.alpha / n) end
end

local function params_of(self)                     -- scikit-learn's pack order
  local p = {}
  for i, w in ipairs(self.coefs_) do p[i] = w end
  for _, b in ipairs(self.intercepts_) do p[#p + 1] = b end
  return p
end

local function zero_grads(params)
  for _, p in ipairs(params) do
    local g = p.grad
    if g then g:zero_() end
  end
end

-- The RandomState behind random_state, as scikit-learn's check_random_state: an int seeds a new
-- one on every fit, a RandomState is used as is (its stream goes on); a lunet.Generator, or the
-- default generator for nil, seeds a new one.
local function make_rng(rs)
  local data = require "lunet.data"
  if type(rs) == "number" then return data.RandomState(floor(rs)) end
  if rs == nil or data._is_randomstate(rs) then return data._check_random_state("MLP", rs) end
  return data._check_random_state("MLP", nil, rs)    -- a lunet.Generator seeds one
end

----------------------------------------------------------------------------------------------
-- scikit-learn's stochastic optimizers
----------------------------------------------------------------------------------------------

-- SGDOptimizer: velocity = momentum·velocity - lr·grad; param += velocity, or with Nesterov
-- param += momentum·velocity - lr·grad. The learning rate follows the schedule per epoch.
local SGD = {}
SGD.__index = SGD

local function sgd_new(params, lr_init, schedule, momentum, nesterov, power_t)
  local v = {}
  for i, p in ipairs(params) do v[i] = lunet.zeros_like(p) end
  return setmetatable({params = params, learning_rate_init = lr_init, learning_rate = lr_init,
                       lr_schedule = schedule, momentum = momentum, nesterov = nesterov,
                       power_t = power_t, velocities = v}, SGD)
end

local function sgd_update(o)
  local mu, lr = o.momentum, o.learning_rate
  for i, p in ipairs(o.params) do
    local g, v = p.grad, o.velocities[i]
    if g then
      v:mul_(mu)
      v:sub_(g * lr)
      if o.nesterov then p:add_(v * mu - g * lr) else p:add_(v) end
    end
  end
end

function SGD:step() lunet.no_grad(sgd_update, self) end
function SGD:zero_grad() zero_grads(self.params) end

function SGD:iteration_ends(time_step)
  if self.lr_schedule == "invscaling" then
    self.learning_rate = self.learning_rate_init / (time_step + 1) ^ self.power_t
  end
end

function SGD:trigger_stopping(msg, verbose)
  if self.lr_schedule ~= "adaptive" then
    if verbose then io.write(msg, " Stopping.\n") end
    return true
  end
  if self.learning_rate <= 1e-6 then
    if verbose then io.write(msg, " Learning rate too small. Stopping.\n") end
    return true
  end
  self.learning_rate = self.learning_rate / 5.0
  if verbose then io.write(msg, fmt(" Setting learning rate to %f\n", self.learning_rate)) end
  return false
end

-- AdamOptimizer: lunet.optim.Adam with eps_inside (lr_t = lr·√(1-β2^t)/(1-β1^t);
-- p -= lr_t·m/(√v + ε)).
local Adam = {}
Adam.__index = Adam

local function adam_new(params, lr, b1, b2, eps)
  local opt = lunet.optim.Adam(params, {lr = lr, betas = {b1, b2}, eps = eps, eps_inside = true})
  return setmetatable({params = params, learning_rate_init = lr, beta_1 = b1, beta_2 = b2,
                       epsilon = eps, opt = opt}, Adam)
end

function Adam:step() self.opt:step() end
function Adam:zero_grad() self.opt:zero_grad() end
function Adam:iteration_ends() end
function Adam:trigger_stopping(msg, verbose)
  if verbose then io.write(msg, " Stopping.\n") end
  return true
end

----------------------------------------------------------------------------------------------
-- L-BFGS with a strong-Wolfe line search (what scipy's L-BFGS-B does without bounds)
----------------------------------------------------------------------------------------------

-- Minimizer of the cubic through (a, fa, ga) and (b, fb, gb); nil when it has none.
local function cubic_min(a, fa, ga, b, fb, gb)
  local d1 = ga + gb - 3 * (fa - fb) / (a - b)
  local disc = d1 * d1 - ga * gb
  if not (disc >= 0) then return nil end
  local d2 = sqrt(disc)
  if b < a then d2 = -d2 end
  local den = gb - ga + 2 * d2
  if den == 0 then return nil end
  local r = b - (b - a) * (gb + d2 - d1) / den
  if r ~= r then return nil end
  return r
end

-- Strong Wolfe line search along d from x (Nocedal & Wright, algorithms 3.5 and 3.6) with
-- scipy's constants (sufficient decrease 1e-3, curvature 0.9). phi(a) returns f, g·d, g.
-- Returns the step, f and g there, or nil when it fails within maxev evaluations.
local function wolfe_search(phi, f0, dg0, a1, maxev)
  local c1, c2 = 1e-3, 0.9
  local evals = 0
  local function zoom(lo, flo, dlo, glo, hi, fhi, dhi)
    while evals < maxev do
      local lo_, hi_ = min(lo, hi), max(lo, hi)
      local a = cubic_min(lo, flo, dlo, hi, fhi, dhi)
      local w = hi_ - lo_
      if not a or a < lo_ + 0.1 * w or a > hi_ - 0.1 * w then a = (lo + hi) / 2 end
      local f, dg, g = phi(a); evals = evals + 1
      if f > f0 + c1 * a * dg0 or f >= flo then
        hi, fhi, dhi = a, f, dg
      else
        if abs(dg) <= -c2 * dg0 then return a, f, g end
        if dg * (hi - lo) >= 0 then hi, fhi, dhi = lo, flo, dlo end
        lo, flo, dlo, glo = a, f, dg, g
      end
      if abs(hi - lo) <= 1e-12 * max(1, abs(lo)) then break end
    end
    if flo < f0 and glo then return lo, flo, glo end  -- best decrease seen
    return nil
  end
  local a_prev, f_prev, d_prev, g_prev = 0, f0, dg0, nil
  local a = a1
  while evals < maxev do
    local f, dg, g = phi(a); evals = evals + 1
    if f ~= f or f > f0 + c1 * a * dg0 or (evals > 1 and f >= f_prev) then
      if f ~= f then f, dg = huge, 0 end
      return zoom(a_prev, f_prev, d_prev, g_prev, a, f, dg)
    end
    if abs(dg) <= -c2 * dg0 then return a, f, g end
    if dg >= 0 then return zoom(a, f, dg, g, a_prev, f_prev, d_prev) end
    a_prev, f_prev, d_prev, g_prev = a, f, dg, g
    a = a * 4
  end
  if g_prev and f_prev < f0 then return a_prev, f_prev, g_prev end
  return nil
end

-- fg(x) -> f, g for a float64 vector x. Stops as scipy: max|g| <= gtol, a relative reduction
-- of f below ftol, maxiter iterations, maxfun evaluations. Returns a result table.
local function lbfgs(fg, x, o)
  local m, nfev = 10, 0
  local f, g = fg(x); nfev = 1
  local S, Y, RHO = {}, {}, {}
  local nit, status, msg = 0, 0, nil
  local function gmax(v) return v:abs():max():item() end
  if gmax(g) <= o.gtol then
    return {x = x, f = f, nit = 0, nfev = nfev, status = 0,
            message = "CONVERGENCE: NORM_OF_PROJECTED_GRADIENT_<=_PGTOL"}
  end
  while true do
    -- d = -H·g by the two-loop recursion
    local q = g:clone()
    local al = {}
    for i = #S, 1, -1 do
      al[i] = RHO[i] * S[i]:dot(q):item()
      q:sub_(Y[i] * al[i])
    end
    if #S > 0 then
      local k = #S
      q:mul_(S[k]:dot(Y[k]):item() / Y[k]:dot(Y[k]):item())
      for i = 1, #S do
        local beta = RHO[i] * Y[i]:dot(q):item()
        q:add_(S[i] * (al[i] - beta))
      end
    end
    local d = -q
    local dg0 = g:dot(d):item()
    if not (dg0 < 0) then                           -- not a descent direction: restart
      S, Y, RHO = {}, {}, {}
      d = -g
      dg0 = -g:dot(g):item()
    end
    local a1 = 1
    if #S == 0 then a1 = min(1 / sqrt(-dg0), 1e10) end -- L-BFGS-B's first step: 1/‖d‖
    local function phi(a)
      local fa, ga = fg(x + d * a)
      nfev = nfev + 1
      return fa, ga:dot(d):item(), ga
    end
    local budget = min(20, o.maxfun - nfev)
    local a, fnew, gnew
    if budget > 0 then a, fnew, gnew = wolfe_search(phi, f, dg0, a1, budget) end
    if not a then
      if nfev >= o.maxfun then
        status, msg = 1, "STOP: TOTAL NO. of f AND g EVALUATIONS EXCEEDS LIMIT"
      elseif #S > 0 then                            -- retry once along -g
        S, Y, RHO = {}, {}, {}
        goto continue
      else
        status, msg = 2, "ABNORMAL_TERMINATION_IN_LNSRCH"
      end
      break
    end
    do
      local xnew = x + d * a
      local s, y = xnew - x, gnew - g
      local sy = s:dot(y):item()
      if sy > 2.2e-16 * y:dot(y):item() then
        S[#S + 1], Y[#Y + 1], RHO[#RHO + 1] = s, y, 1 / sy
        if #S > m then table.remove(S, 1); table.remove(Y, 1); table.remove(RHO, 1) end
      end
      local fold = f
      x, f, g = xnew, fnew, gnew
      nit = nit + 1
      if o.verbose then
        io.write(fmt("At iterate %5d    f= %12.5E    |proj g|= %12.5E\n", nit, f, gmax(g)))
      end
      if gmax(g) <= o.gtol then
        msg = "CONVERGENCE: NORM_OF_PROJECTED_GRADIENT_<=_PGTOL"; break
      end
      if (fold - f) <= o.ftol * max(abs(fold), abs(f), 1) then
        msg = "CONVERGENCE: REL_REDUCTION_OF_F_<=_FACTR*EPSMCH"; break
      end
      if nit >= o.maxiter then
        status, msg = 1, "STOP: TOTAL NO. of ITERATIONS REACHED LIMIT"; break
      end
      if nfev >= o.maxfun then
        status, msg = 1, "STOP: TOTAL NO. of f AND g EVALUATIONS EXCEEDS LIMIT"; break
      end
    end
    ::continue::
  end
  return {x = x, f = f, nit = nit, nfev = nfev, status = status, message = msg}
end

M.lbfgs = lbfgs   -- exposed for tests

----------------------------------------------------------------------------------------------
-- The shared estimator
----------------------------------------------------------------------------------------------

local Base = {}

-- scikit-learn's _init_coef: Glorot-uniform coef, then intercept, drawn in float64 and cast.
local function init_coef(self, fan_in, fan_out, rng)
  local factor = self.activation == "logistic" and 2.0 or 6.0
  local bound = sqrt(factor / (fan_in + fan_out))
  local W = rng:uniform(-bound, bound, {fan_in, fan_out}):to(self.dtype)
  local b = rng:uniform(-bound, bound, fan_out):to(self.dtype)
  return W:set_requires_grad(true), b:set_requires_grad(true)
end

local function initialize(self, layer_units, rng)
  self.n_iter_, self.t_ = 0, 0
  self.n_layers_ = #layer_units
  self.coefs_, self.intercepts_ = {}, {}
  for i = 1, self.n_layers_ - 1 do
    self.coefs_[i], self.intercepts_[i] = init_coef(self, layer_units[i], layer_units[i + 1], rng)
  end
  self.loss_curve_, self.validation_scores_ = nil, nil
  self.best_validation_score_, self.best_loss_ = nil, nil
  if self.solver ~= "lbfgs" then
    self.loss_curve_ = {}
    self._no_improvement_count = 0
    if self.early_stopping then
      self.validation_scores_ = {}
      self.best_validation_score_ = -huge
    else
      self.best_loss_ = huge
    end
  end
end

local function copy_all(list)
  local c = {}
  for i, t in ipairs(list) do c[i] = t:detach():clone() end
  return c
end

local function restore(dst, src)
  for i, t in ipairs(dst) do t:copy_(src[i]) end
end

local function update_no_improvement_count(self, early_stopping, Xv, Tv)
  if early_stopping then
    local score = self:_score_targets(Xv, Tv)
    local vs = self.validation_scores_
    vs[#vs + 1] = score
    if self.verbose then io.write(fmt("Validation score: %f\n", score)) end
    if score < self.best_validation_score_ + self.tol then
      self._no_improvement_count = self._no_improvement_count + 1
    else
      self._no_improvement_count = 0
    end
    if score > self.best_validation_score_ then
      self.best_validation_score_ = score
      self._best_coefs = copy_all(self.coefs_)
      self._best_intercepts = copy_all(self.intercepts_)
    end
  else
    local last = self.loss_curve_[#self.loss_curve_]
    if last > self.best_loss_ - self.tol then
      self._no_improvement_count = self._no_improvement_count + 1
    else
      self._no_improvement_count = 0
    end
    if last < self.best_loss_ then self.best_loss_ = last end
  end
end

-- A progress bar on stderr, drawn only on a terminal and once a fit runs over a second (no
-- line in logs: a fit is one call, and scikit-learn's is silent).
local function new_progress(self)
  return require("lunet.progress").new(self.max_iter, {desc = self._name, unit = "epoch",
                                                       delay = 1, plain = false})
end

local function is_interrupt(e)
  return type(e) == "string" and e:lower():find("interrupt", 1, true) ~= nil
end

local function fit_stochastic(self, X, T, strat, incremental, rng)
  local params = params_of(self)
  if not incremental or self._optimizer == nil then
    if self.solver == "sgd" then
      self._optimizer = sgd_new(params, self.learning_rate_init, self.learning_rate,
                                self.momentum, self.nesterovs_momentum, self.power_t)
    else
      self._optimizer = adam_new(params, self.learning_rate_init, self.beta_1, self.beta_2,
                                 self.epsilon)
    end
  end
  local opt = self._optimizer

  -- early stopping in partial_fit does not make sense
  local early_stopping = self.early_stopping and not incremental
  local Xv, Tv
  if early_stopping then
    local data = require "lunet.data"
    local n0 = X:size(1)
    local idx = lunet.arange(1, n0 + 1, 1, {dtype = "int64"})
    -- scikit-learn stratifies only a single-output classifier (binary targets); its split draws
    -- from the fit's RandomState, after the weights
    local _, _, itr, ite = data.train_test_split(X:narrow(2, 1, 1), idx,
      {test_size = self.validation_fraction, random_state = rng,
       stratify = self.n_outputs_ == 1 and strat or nil})
    Xv, Tv = X:index_select(1, ite), T:index_select(1, ite)
    X, T = X:index_select(1, itr), T:index_select(1, itr)
  end

  local n = X:size(1)
  local bs
  if self.batch_size == "auto" then
    bs = min(200, n)
  else
    if self.batch_size > n then
      warn("UserWarning: Got `batch_size` larger than sample size. It is going to be clipped")
    end
    bs = min(max(self.batch_size, 1), n)
  end

  local verbose = self.verbose ~= false and self.verbose ~= 0
  local bar = not verbose and new_progress(self) or nil
  -- scikit-learn shuffles the index array itself each epoch (sklearn.utils.shuffle draws a
  -- permutation and applies it to the previous order), so the orders compose
  local sample_idx = self.shuffle and lunet.arange(1, n + 1, 1, {dtype = "int64"}) or nil
  local ok, err = pcall(function()
    for _ = 1, self.max_iter do
      local perm = sample_idx and rng:shuffle(sample_idx)
      local accumulated = 0.0
      for start = 1, n, bs do
        local len = min(bs, n - start + 1)
        local xb, tb
        if perm then
          local idx = perm:narrow(1, start, len)
          xb, tb = X:index_select(1, idx), T:index_select(1, idx)
        else
          xb, tb = X:narrow(1, start, len), T:narrow(1, start, len)
        end
        opt:zero_grad()
        local loss, _, value = objective(self, xb, tb, len)
        loss:backward()
        add_l2_grad(self, len)
        opt:step()
        accumulated = accumulated + value * len
      end
      self.n_iter_ = self.n_iter_ + 1
      self.loss_ = accumulated / n
      self.t_ = self.t_ + n
      self.loss_curve_[#self.loss_curve_ + 1] = self.loss_
      if verbose then io.write(fmt("Iteration %d, loss = %.8f\n", self.n_iter_, self.loss_)) end

      update_no_improvement_count(self, early_stopping, Xv, Tv)
      opt:iteration_ends(self.t_)

      if bar then
        local vs = self.validation_scores_
        bar:set_postfix{loss = self.loss_, val = early_stopping and vs[#vs] or nil}
        bar:update(1)
      end

      if self._no_improvement_count > self.n_iter_no_change then
        local msg
        if early_stopping then
          msg = fmt("Validation score did not improve more than tol=%f for %d consecutive epochs.",
                    self.tol, self.n_iter_no_change)
        else
          msg = fmt("Training loss did not improve more than tol=%f for %d consecutive epochs.",
                    self.tol, self.n_iter_no_change)
        end
        if opt:trigger_stopping(msg, verbose) then break end
        self._no_improvement_count = 0
      end
      if incremental then break end
      if self.n_iter_ == self.max_iter then
        if bar then bar:close() end                 -- the warning starts a line of its own
        warn(fmt("ConvergenceWarning: Stochastic Optimizer: Maximum iterations (%d) reached and "
                 .. "the optimization hasn't converged yet.", self.max_iter))
      end
    end
  end)
  if bar then bar:close() end
  if not ok then
    if not is_interrupt(err) then error(err, 0) end
    warn("UserWarning: Training interrupted by user.")
  end

  if early_stopping and self._best_coefs then       -- restore the best weights
    lunet.no_grad(function()
      restore(self.coefs_, self._best_coefs)
      restore(self.intercepts_, self._best_intercepts)
    end)
  end
end

local function fit_lbfgs(self, X, T)
  local params = params_of(self)
  local n = X:size(1)
  local shapes = {}
  for i, p in ipairs(params) do shapes[i] = p:shape() end
  local function unpack(x)
    local off = 1
    for i, p in ipairs(params) do
      local k = p:numel()
      p:copy_(x:narrow(1, off, k):view(shapes[i]):to(self.dtype))
      off = off + k
    end
  end
  local function pack(list)
    local flat = {}
    for i, t in ipairs(list) do flat[i] = t:reshape(-1) end
    return lunet.cat(flat, 1):to("float64")
  end
  local function fg(x)
    lunet.no_grad(unpack, x)
    zero_grads(params)
    local loss, value = objective(self, X, T, n)
    loss:backward()
    add_l2_grad(self, n)
    local grads = {}
    for i, p in ipairs(params) do grads[i] = p.grad or lunet.zeros_like(p) end
    return value, pack(grads)
  end
  local x0 = lunet.no_grad(pack, params)
  local verbose = self.verbose ~= false and self.verbose ~= 0
  local res = lbfgs(fg, x0, {maxiter = self.max_iter, maxfun = self.max_fun, gtol = self.tol,
                             ftol = 2.220446049250313e-09, verbose = verbose})
  lunet.no_grad(unpack, res.x)
  if res.status ~= 0 then
    warn(fmt("ConvergenceWarning: lbfgs failed to converge (status=%d):\n%s.\n\nIncrease the "
             .. "number of iterations (max_iter) or scale the data as shown in:\n    "
             .. "https://scikit-learn.org/stable/modules/preprocessing.html", res.status, res.message))
  end
  self.n_iter_ = min(res.nit, self.max_iter)
  -- the reported loss (the mean over outputs for multi-output regression)
  local _, value = lunet.no_grad(objective, self, X, T, n)
  self.loss_ = value
end

-- The shared body of fit and partial_fit (scikit-learn's _fit).
function Base:_fit(X, y, incremental)
  validate_params(self)
  local hidden = hidden_sizes(self)
  local first_pass = self.coefs_ == nil or (not self.warm_start and not incremental)
  X = check_X(self, X)
  local T, strat = self:_validate_targets(X, y, incremental)
  local n_features = X:size(2)
  if not first_pass and n_features ~= self.n_features_in_ then
    raise(fmt("X has %d features, but %s is expecting %d features as input.",
              n_features, self._name, self.n_features_in_))
  end
  self.n_features_in_ = n_features
  self.n_outputs_ = T:dim() == 1 and self._n_classes or T:size(2)
  local units = {n_features}
  for _, h in ipairs(hidden) do units[#units + 1] = h end
  units[#units + 1] = self.n_outputs_

  local rng = make_rng(self.random_state)
  if first_pass then
    self._optimizer = nil
    initialize(self, units, rng)
  end
  if self.solver == "lbfgs" then fit_lbfgs(self, X, T)
  else fit_stochastic(self, X, T, strat, incremental, rng) end

  for _, list in ipairs{self.coefs_, self.intercepts_} do
    for _, w in ipairs(list) do
      local s = w:detach():abs():sum():item()
      if s ~= s or s == huge then
        raise("Solver produced non-finite parameter weights. The input data may contain "
              .. "large values and need to be preprocessed.")
      end
    end
  end
  return self
end

function Base:fit(X, y)
  return self:_fit(X, y, false)
end

-- The output activations for X (probabilities for a classifier), without recording.
local function output(self, X)
  check_fitted(self)
  X = check_X(self, X)
  check_features(self, X)
  local z = lunet.no_grad(forward, self, X)
  local out = self.out_activation_
  if out == "softmax" then
    local e = (z - z:max(2, true)):exp()            -- scikit-learn's inplace_softmax
    return e / e:sum(2, true), z
  end
  if out == "logistic" then return z:sigmoid(), z end
  return z, z
end

function Base:get_params()
  local p = {}
  for _, d in ipairs(PARAMS) do p[d[1]] = copy_default(self[d[1]]) end
  return p
end

function Base:set_params(opts)
  for k, v in pairs(opts) do
    if not PARAM_INDEX[k] then
      raise(fmt("Invalid parameter '%s' for estimator %s. Valid parameters are: %s.",
                tostring(k), self._name, M._param_names()))
    end
    self[k] = copy_default(v)
  end
  validate_params(self)
  return self
end

function M._param_names()
  local names = {}
  for i, p in ipairs(PARAMS) do names[i] = repr(p[1]) end
  return "[" .. concat(names, ", ") .. "]"
end

----------------------------------------------------------------------------------------------
-- Saving and loading: clf:save(path), MLPClassifier.load(path)
----------------------------------------------------------------------------------------------

-- The fitted fields that are numbers, strings, booleans or arrays of numbers. The optimizer's
-- state is not among them: a loaded estimator predicts, and a partial_fit on it starts a fresh
-- optimizer as warm_start does.
local FITTED = {"n_features_in_", "n_outputs_", "n_layers_", "out_activation_", "n_iter_", "t_",
  "loss_", "best_loss_", "best_validation_score_", "loss_curve_", "validation_scores_",
  "_n_classes", "_multilabel", "_no_improvement_count"}
local FORMAT = 1

-- What lunet.save writes for an estimator: weights as tensors ("coefs_.1", …), the rest as
-- metadata. random_state is kept when it is an integer (a RandomState or Generator is state, not
-- a setting, and is left out).
function Base:state_dict()
  local params = {}
  for _, p in ipairs(PARAMS) do
    local v = self[p[1]]
    if p[1] ~= "random_state" or is_int(v) then params[p[1]] = copy_default(v) end
  end
  local sd = {estimator = self._name, format = FORMAT, params = params}
  if self.coefs_ ~= nil then
    sd.coefs_, sd.intercepts_ = {}, {}
    for i, W in ipairs(self.coefs_) do sd.coefs_[i] = W:detach() end
    for i, b in ipairs(self.intercepts_) do sd.intercepts_[i] = b:detach() end
    local f = {}
    for _, k in ipairs(FITTED) do f[k] = self[k] end
    sd.fitted = f
    sd.classes_ = self.classes_
  end
  return sd
end

-- Restores what state_dict wrote (lunet.load's result) into this estimator; returns self.
function Base:load_state_dict(sd, where)
  where = where or (self._name .. ".load_state_dict")
  if type(sd) ~= "table" or sd.estimator == nil then
    raise(fmt("%s: not a saved estimator (no 'estimator' entry; write one with est:save(path))",
              where))
  end
  if sd.estimator ~= self._name then
    raise(fmt("%s: the file was written by %s, not %s", where, tostring(sd.estimator),
              self._name))
  end
  if sd.format ~= FORMAT then
    raise(fmt("%s: saved estimator format %s, this Lunet reads format %d", where,
              tostring(sd.format), FORMAT))
  end
  if type(sd.params) ~= "table" then raise(where .. ": the file has no 'params' table") end
  for k, v in pairs(sd.params) do
    if not PARAM_INDEX[k] then raise(fmt("%s: unknown parameter '%s' in the file", where, tostring(k))) end
    self[k] = copy_default(v)
  end
  validate_params(self)
  self.coefs_, self.intercepts_, self._optimizer = nil, nil, nil
  for _, k in ipairs(FITTED) do self[k] = nil end
  if sd.coefs_ == nil then return self end
  local W, b, f = sd.coefs_, sd.intercepts_, sd.fitted
  if type(W) ~= "table" or type(b) ~= "table" or type(f) ~= "table" or #W == 0 or #W ~= #b then
    raise(where .. ": the file's coefs_, intercepts_ and fitted entries do not match")
  end
  self.coefs_, self.intercepts_ = {}, {}
  for i = 1, #W do
    if not is_tensor(W[i]) or not is_tensor(b[i]) or W[i]:dim() ~= 2 or b[i]:dim() ~= 1
        or W[i]:size(2) ~= b[i]:size(1) or (i > 1 and W[i - 1]:size(2) ~= W[i]:size(1)) then
      raise(fmt("%s: layer %d's weights do not chain (coefs_ must be fan_in x fan_out, "
                .. "intercepts_ fan_out)", where, i))
    end
    self.coefs_[i] = W[i]:to(self.dtype):set_requires_grad(true)
    self.intercepts_[i] = b[i]:to(self.dtype):set_requires_grad(true)
  end
  for _, k in ipairs(FITTED) do self[k] = f[k] end
  self.classes_ = sd.classes_
  if self.n_features_in_ ~= W[1]:size(1) or self.n_layers_ ~= #W + 1 then
    raise(where .. ": the file's fitted fields do not match its weights")
  end
  return self
end

-- est:save(path): the hyper-parameters, the fitted fields and the weights in one safetensors
-- file (lunet.save(path, est) writes the same). Raises when the file cannot be written.
function Base:save(path)
  if type(path) ~= "string" then raise(fmt("%s:save: path must be a string, got %s", self._name, type(path))) end
  lunet.save(path, self:state_dict())
  return self
end

local function tostring_estimator(self)
  local parts = {}
  for _, p in ipairs(PARAMS) do
    local v, d = self[p[1]], p[2]
    local same = v == d
    if type(v) == "table" and type(d) == "table" then
      same = #v == #d
      for i = 1, #v do same = same and v[i] == d[i] end
    end
    if not same then parts[#parts + 1] = p[1] .. "=" .. repr(v) end
  end
  return self._name .. "(" .. concat(parts, ", ") .. ")"
end

local function make_class(name, extra)
  local class = {}
  for k, v in pairs(Base) do class[k] = v end
  for k, v in pairs(extra) do class[k] = v end
  class._name = name
  class.__index = class
  class.__name = name
  class.__tostring = tostring_estimator
  -- MLPClassifier.load(path): a fitted estimator back from est:save(path)
  class.load = function(path)
    if type(path) ~= "string" then raise(fmt("%s.load: path must be a string, got %s", name, type(path))) end
    local sd = lunet.load(path)
    return class():load_state_dict(sd, fmt("%s.load: '%s'", name, path))
  end
  return setmetatable(class, {__call = function(cls, opts)
    opts = opts or {}
    if type(opts) ~= "table" then
      raise(fmt("%s takes a table of parameters, got %s", name, type(opts)))
    end
    local self = setmetatable({}, cls)
    for _, p in ipairs(PARAMS) do self[p[1]] = copy_default(p[2]) end
    for k, v in pairs(opts) do
      if not PARAM_INDEX[k] then
        raise(fmt("%s got an unexpected parameter '%s'. Valid parameters are: %s.",
                  name, tostring(k), M._param_names()))
      end
      self[k] = copy_default(v)
    end
    validate_params(self)
    return self
  end})
end

----------------------------------------------------------------------------------------------
-- MLPClassifier
----------------------------------------------------------------------------------------------

local Classifier = {loss = "log_loss"}

-- Encodes y against classes_ (fitting them on a first pass) and returns the training target:
-- class ids for softmax, a 0/1 float column for binary, the indicator matrix for multilabel;
-- and the ids to stratify by (single-output only).
function Classifier:_validate_targets(X, y, incremental)
  local multilabel = is_tensor(y) and y:dim() == 2 and y:size(2) > 1
  if multilabel then
    check_consistent(X, y:size(1))
    local Y = y:to(self.dtype)
    if Y:eq(0):sum():item() + Y:eq(1):sum():item() ~= Y:numel() then
      raise("Multilabel targets must be a 0/1 indicator matrix.")
    end
    local k = y:size(2)
    if self.classes_ == nil or (not self.warm_start and not incremental) then
      self.classes_ = lunet.arange(0, k):long()
      self._n_classes, self._multilabel = k, true
    elseif not self._multilabel or self._n_classes ~= k then
      raise(fmt("y has %d label columns, but %s was fitted with %s.", k, self._name,
                classes_str(self.classes_)))
    end
    self.out_activation_ = "logistic"
    return Y, nil
  end

  local list, ldtype = labels_list(y)
  check_consistent(X, #list)
  local uniq = sorted_unique(list)
  if self.classes_ == nil or (not self.warm_start and not incremental) then
    set_classes(self, uniq, ldtype)
  else
    local known = classes_as_list(self.classes_)
    local set = {}
    for _, c in ipairs(known) do set[c] = true end
    if self.warm_start then
      local same = #uniq == #known
      for _, c in ipairs(uniq) do same = same and set[c] == true end
      if not same then
        raise(fmt("warm_start can only be used where `y` has the same classes as in the previous "
                  .. "call to fit. Previously got %s, `y` has %s",
                  classes_str(self.classes_), classes_str(uniq)))
      end
    else
      for _, c in ipairs(uniq) do
        if not set[c] then
          raise(fmt("`y` has classes not in `self.classes_`. `self.classes_` has %s. 'y' has %s.",
                    classes_str(self.classes_), classes_str(uniq)))
        end
      end
    end
  end
  local classes = classes_as_list(self.classes_)
  self._n_classes = #classes
  local ids = encode(classes, list, false)
  if #classes == 2 then
    self.out_activation_ = "logistic"
    self._n_classes = 1
    return (ids - 1):to(self.dtype):view(-1, 1), ids
  end
  self.out_activation_ = "softmax"
  return ids, ids
end

-- Accuracy of the current weights against training-style targets (early stopping's score).
function Classifier:_score_targets(X, T)
  local z = lunet.no_grad(forward, self, X)
  local n = X:size(1)
  if self.out_activation_ == "softmax" then
    return z:argmax(2):eq(T):sum():item() / n
  end
  local pred = z:sigmoid():gt(0.5)
  return pred:eq(T):sum(2):eq(T:size(2)):sum():item() / n
end

local function ids_to_labels(self, ids)
  local c = self.classes_
  if is_tensor(c) then return c:index_select(1, ids) end
  local out, list = {}, ids:totable()
  for i = 1, #list do out[i] = c[list[i]] end
  return out
end

function Classifier:predict(X)
  local p = output(self, X)
  if self._multilabel then return p:gt(0.5):long() end
  if self.out_activation_ == "logistic" then
    return ids_to_labels(self, p:reshape(-1):gt(0.5):long() + 1)
  end
  return ids_to_labels(self, p:argmax(2))
end

function Classifier:predict_proba(X)
  local p = output(self, X)
  if self.out_activation_ == "logistic" and not self._multilabel then
    return lunet.cat({1 - p, p}, 2)
  end
  return p
end

function Classifier:predict_log_proba(X)
  return self:predict_proba(X):log()
end

function Classifier:score(X, y)
  local pred_ok
  if self._multilabel then
    local Y = as_tensor(y, "int64", "y"):long()
    local P = self:predict(X)
    check_consistent(P, Y:size(1))
    pred_ok = P:eq(Y):sum(2):eq(Y:size(2)):sum():item()
    return pred_ok / Y:size(1)
  end
  local list = labels_list(y)
  local p = output(self, X)
  check_consistent(p, #list)
  local ids = encode(classes_as_list(self.classes_), list, true)
  local pred
  if self.out_activation_ == "logistic" then pred = p:reshape(-1):gt(0.5):long() + 1
  else pred = p:argmax(2) end
  return pred:eq(ids):sum():item() / #list
end

function Classifier:partial_fit(X, y, classes)
  if self.solver == "lbfgs" then
    raise("partial_fit is only available for stochastic optimizers. lbfgs is not stochastic.")
  end
  if classes ~= nil then
    local list, ldtype = labels_list(classes)
    local uniq = sorted_unique(list)
    if self.classes_ ~= nil then
      local known = classes_as_list(self.classes_)
      local same = #known == #uniq
      for i = 1, #uniq do same = same and known[i] == uniq[i] end
      if not same then
        raise(fmt("`classes=%s` is not the same as on last call to partial_fit, was: %s",
                  classes_str(uniq), classes_str(self.classes_)))
      end
    else
      set_classes(self, uniq, ldtype)
    end
  elseif self.classes_ == nil then
    if is_tensor(y) and y:dim() == 2 and y:size(2) > 1 then
      return self:_fit(X, y, true)                  -- multilabel: the columns are the classes
    end
    raise("classes must be passed on the first call to partial_fit.")
  end
  return self:_fit(X, y, true)
end

----------------------------------------------------------------------------------------------
-- MLPRegressor
----------------------------------------------------------------------------------------------

local Regressor = {loss = "squared_error"}

function Regressor:_validate_targets(X, y)
  local Y = as_tensor(y, self.dtype, "y")
  if Y:dim() == 1 then Y = Y:reshape(-1, 1) end
  if Y:dim() ~= 2 then
    raise(fmt("y should be a 1d or 2d array, got %dD array instead.", Y:dim()))
  end
  check_consistent(X, Y:size(1))
  if Y:dtype() ~= self.dtype then Y = Y:to(self.dtype) end
  check_finite(Y, "y")
  self.out_activation_ = "identity"
  self._n_classes = nil
  return Y, nil
end

-- R² averaged over outputs (scikit-learn's r2_score, multioutput="uniform_average"): an output
-- with constant targets scores 1 when predicted exactly, else 0.
local function r2(P, Y)
  local ss_res = ((Y - P) ^ 2):sum(1):totable()
  local ss_tot = ((Y - Y:mean(1, true)) ^ 2):sum(1):totable()
  local total = 0
  for j = 1, #ss_res do
    local s
    if ss_tot[j] ~= 0 then s = 1 - ss_res[j] / ss_tot[j]
    elseif ss_res[j] == 0 then s = 1 else s = 0 end
    total = total + s
  end
  return total / #ss_res
end

function Regressor:_score_targets(X, T)
  return r2(lunet.no_grad(forward, self, X), T)
end

function Regressor:predict(X)
  local z = output(self, X)
  if z:size(2) == 1 then return z:reshape(-1) end
  return z
end

function Regressor:score(X, y)
  local z = output(self, X)
  local Y = as_tensor(y, self.dtype, "y")
  if Y:dim() == 1 then Y = Y:reshape(-1, 1) end
  check_consistent(z, Y:size(1))
  return r2(z, Y:to(z:dtype()))
end

function Regressor:partial_fit(X, y)
  if self.solver == "lbfgs" then
    raise("partial_fit is only available for stochastic optimizers. lbfgs is not stochastic.")
  end
  return self:_fit(X, y, true)
end

M.MLPClassifier = make_class("MLPClassifier", Classifier)
M.MLPRegressor = make_class("MLPRegressor", Regressor)

return M
