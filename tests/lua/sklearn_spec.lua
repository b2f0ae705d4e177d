-- sklearn_spec.lua: fidelity to NumPy 1.24 and scikit-learn 1.2.1, against the numbers
-- scripts/make_sklearn_fixtures.py wrote from them (tests/fixtures/sklearn.lua): NumPy's legacy
-- generator bit for bit, train_test_split's rows, MLPClassifier's fits.
local lunet = require "lunet"
local data = require "lunet.data"

local h = dofile("tests/lua/helpers.lua")
local msg = h.strip
local FX = dofile("tests/fixtures/sklearn.lua")

local function raises(want, f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok)
  assert.are.equal(want, msg(err))
end

local function ints(s)                                -- "3 1 2" -> {3, 1, 2}
  local t = {}
  for w in s:gmatch("%S+") do t[#t + 1] = math.tointeger(tonumber(w)) end
  return t
end

local function plus1(t)
  local r = {}
  for i, v in ipairs(t) do r[i] = v + 1 end
  return r
end

-- relative closeness, element by element, with the first offending index in the message
local function close(want, got, rtol, what)
  assert.are.equal(#want, #got, what .. ": lengths")
  for i = 1, #want do
    local d = math.abs(got[i] - want[i]) / math.max(math.abs(want[i]), 1e-300)
    assert.is_true(d <= rtol, ("%s[%d]: %.17g vs scikit-learn's %.17g (rel %.3g)"):format(
      what, i, got[i], want[i], d))
  end
end

describe("RandomState (NumPy's legacy MT19937)", function()
  it("is lunet.data.RandomState", function()
    assert.are.equal(lunet._RandomState, data.RandomState)
    assert.is_true(data._is_randomstate(data.RandomState(0)))
  end)

  for name, d in pairs(FX.draws) do
    it("draws NumPy's numbers bit for bit, seed " .. d.seed .. " (" .. name .. ")", function()
      local rs = data.RandomState(d.seed)
      for i = 1, #d.random_sample do assert.are.equal(d.random_sample[i], rs:random_sample()) end
      local u = rs:uniform(-0.5, 2.0, #d.uniform):totable()
      assert.are.same(d.uniform, u)
      assert.are.same(d.randint10, rs:randint(0, 10, #d.randint10))
      for i = 1, #d.randint_neg do assert.are.equal(d.randint_neg[i], rs:randint(-7, 300)) end
      assert.are.same(d.randint_big, rs:randint(0, 1 << 40, #d.randint_big))
      assert.are.equal(d.after, rs:random_sample())
    end)
  end

  for name, p in pairs(FX.permutations) do
    if p.perm then
      it("permutation(" .. p.n .. ") is NumPy's, seed " .. p.seed .. " (" .. name .. ")", function()
        local rs = data.RandomState(p.seed)
        assert.are.same(plus1(ints(p.perm)), rs:permutation(p.n))
        assert.are.equal(p.after, rs:random_sample())   -- and it drew as many words
        -- shuffling a tensor in place draws the same swaps
        local t = lunet.arange(0, p.n):long()
        data.RandomState(p.seed):shuffle(t)
        assert.are.same(ints(p.perm), t:totable())
        local ti = data.RandomState(p.seed):permutation(p.n, "int64")
        assert.are.equal("int64", ti:dtype())
        assert.are.same(plus1(ints(p.perm)), ti:totable())
      end)
    end
  end

  it("shuffle composes with the previous order, as NumPy's in-place shuffle", function()
    local want = FX.permutations.shuffle_twice.values
    local rs = data.RandomState(FX.permutations.shuffle_twice.seed)
    local a = {}
    for i = 1, 10 do a[i] = (i - 1) * 3 end
    assert.are.equal(a, rs:shuffle(a))
    rs:shuffle(a)
    assert.are.same(want, a)
    local rs2 = data.RandomState(FX.permutations.shuffle_twice.seed)
    local p = rs2:permutation({0, 3, 6, 9, 12, 15, 18, 21, 24, 27})
    assert.are.same(want, rs2:permutation(p))
  end)

  it("seed restarts the stream", function()
    local rs = data.RandomState(9)
    local a = rs:random_sample()
    rs:random_sample()
    assert.are.equal(a, rs:seed(9):random_sample())
  end)

  it("refuses bad arguments with NumPy's reasons", function()
    raises("RandomState: seed must be between 0 and 2^32 - 1, got -1", data.RandomState, -1)
    raises("RandomState: seed must be between 0 and 2^32 - 1, got 4294967296",
      data.RandomState, 1 << 32)
    raises("RandomState: seed must be an integer, got string", data.RandomState, "x")
    local rs = data.RandomState(0)
    raises("randint: low >= high (5 >= 5)", rs.randint, rs, 5, 5)
    raises("uniform: range [-inf, 0.0) exceeds valid bounds", rs.uniform, rs, -math.huge, 0)
    raises("permutation: n must be >= 0, got -1", rs.permutation, rs, -1)
    raises('permutation: the second argument must be "int64", got "float32"', rs.permutation, rs,
      3, "float32")
    raises("shuffle: the tensor must be 1-D and contiguous (got 2 dims)", rs.shuffle, rs,
      lunet.zeros(2, 2))
    raises("shuffle: x must be a Lua array or a 1-D tensor, got string", rs.shuffle, rs, "x")
    raises("uniform: size[2] must be an integer >= 0", rs.uniform, rs, 0, 1, {2, -1})
  end)
end)

describe("train_test_split draws scikit-learn's rows", function()
  local X, y = data.load_digits()
  local idx = lunet.arange(0, X:size(1)):long()

  for name, s in pairs(FX.splits) do
    if s.y == nil then
      it(name, function()
        local tr, te = data.train_test_split(idx, {test_size = 0.2, random_state = s.random_state,
          stratify = s.stratify and y or nil})
        assert.are.same(ints(s.test), te:totable())
        assert.are.same(ints(s.train), tr:totable())
      end)
    end
  end

  it("breaks ties in the stratified allocation as _approximate_mode does", function()
    local s = FX.splits.ties
    local rows = {}
    for i = 1, #s.y do rows[i] = i - 1 end
    local tr, te = data.train_test_split(rows, {test_size = s.test_size,
      random_state = s.random_state, stratify = s.y})
    assert.are.same(ints(s.test), te)
    assert.are.same(ints(s.train), tr)
  end)

  it("a RandomState's stream goes on from split to split", function()
    local rs = data.RandomState(42)
    local _, te1 = data.train_test_split(idx, {test_size = 0.2, random_state = rs})
    assert.are.same(ints(FX.splits.r42_plain.test), te1:totable())
    local _, te2 = data.train_test_split(idx, {test_size = 0.2, random_state = rs})
    assert.are_not.same(te1:totable(), te2:totable())
  end)
end)

describe("MLPClassifier follows scikit-learn's fit (float64)", function()
  local X, y = data.load_digits()
  local Xs = X:narrow(1, 1, 400):double() / 16     -- exact, as the fixture's X[:400] / 16.0

  for name, r in pairs(FX.small) do
    it(name, function()
      local p = {dtype = "float64"}
      for k, v in pairs(r.params) do p[k] = v end
      local mlp = lunet.MLPClassifier(p)
      mlp:fit(Xs, lunet.tensor(r.y, {dtype = "int64"}))
      assert.are.equal(r.n_iter, mlp.n_iter_)
      close(r.loss_curve, mlp.loss_curve_, 1e-9, "loss_curve_")
      assert.are.same(r.validation_scores, mlp.validation_scores_ or {})
      assert.are.same(r.predict, mlp:predict(Xs):totable())
    end)
  end

  -- the study of scripts/digits.lua: split, scaling, fit
  local function study(dtype)
    local Xd = dtype == "float64" and X:double() or X
    local Xtr, Xte, ytr = data.train_test_split(Xd, y, {test_size = 0.2, random_state = 42,
      stratify = y})
    local sc = data.StandardScaler()
    Xtr, Xte = sc:fit_transform(Xtr), sc:transform(Xte)
    local mlp = lunet.MLPClassifier{hidden_layer_sizes = {128, 64}, max_iter = 500,
      random_state = 42, early_stopping = true, validation_fraction = 0.1, dtype = dtype}
    mlp:fit(Xtr, ytr)
    return mlp, mlp:predict(Xte)
  end

  it("the digits study: n_iter_, loss_curve_, validation scores and predictions", function()
    local S = FX.study
    local mlp, pred = study("float64")
    assert.are.equal(S.n_iter, mlp.n_iter_)
    close(S.loss_curve, mlp.loss_curve_, 1e-9, "loss_curve_")
    assert.are.same(S.validation_scores, mlp.validation_scores_)
    assert.are.same(ints(S.predict), pred:totable())
  end)

  it("the digits study in float32 starts on scikit-learn's curve to float32 rounding", function()
    local mlp = study("float32")
    local want, got = {}, {}
    for i = 1, 10 do want[i], got[i] = FX.study.loss_curve[i], mlp.loss_curve_[i] end
    close(want, got, 1e-4, "loss_curve_")
  end)
end)
