-- vocab_ewise_spec.lua: the element-wise vocabulary (issue 13) against Lua's math and known
-- answers (NaN, ±inf, -0, int64), PyTorch's conventions, gradients, in-place forms, and the
-- error of each bad input.
local lunet = require "lunet"

local h = dofile("tests/lua/helpers.lua")
local vals, errmsg, f64, i64, near = h.vals, h.errmsg, h.f64, h.i64, h.near
local inf, nan = math.huge, 0 / 0
local exp, log, sqrt = math.exp, math.log, math.sqrt

local function map(xs, f) local r = {} for i, x in ipairs(xs) do r[i] = f(x) end return r end
local function isnan(v) return v ~= v end
local function isnegzero(v) return v == 0 and 1 / v < 0 end

-- the naive references
local ref = {
  sin = math.sin, cos = math.cos, tan = math.tan, asin = math.asin, acos = math.acos,
  atan = math.atan,
  sinh = function(x) return (exp(x) - exp(-x)) / 2 end,
  cosh = function(x) return (exp(x) + exp(-x)) / 2 end,
  asinh = function(x) return log(x + sqrt(x * x + 1)) end,
  atanh = function(x) return 0.5 * log((1 + x) / (1 - x)) end,
  log1p = function(x) return log(1 + x) end, expm1 = function(x) return exp(x) - 1 end,
  log2 = function(x) return log(x, 2) end, log10 = function(x) return log(x, 10) end,
  exp2 = function(x) return 2 ^ x end, rsqrt = function(x) return 1 / sqrt(x) end,
  reciprocal = function(x) return 1 / x end, square = function(x) return x * x end,
  silu = function(x) return x / (1 + exp(-x)) end,
  mish = function(x) local sp = log(1 + exp(x)); local t = (exp(2 * sp) - 1) / (exp(2 * sp) + 1); return x * t end,
}

describe("element-wise math", function()
  local xs = {-0.9, -0.3, 0.1, 0.45, 0.8}
  for name, f in pairs(ref) do
    it(name .. " matches the naive formula in float64, as a method and as lunet." .. name, function()
      local input = (name == "log2" or name == "log10" or name == "rsqrt") and map(xs, math.abs) or xs
      local want = map(input, f)
      near(vals(f64(input)[name](f64(input))), want, 1e-13)
      near(vals(lunet[name](f64(input))), want, 1e-13)
      near(vals(lunet.tensor(input)[name](lunet.tensor(input))), want, 1e-6)   -- float32
    end)
  end

  it("acosh and erf/erfc at known values", function()
    near(vals(f64{1, 2, 10}:acosh()), {0, log(2 + sqrt(3)), log(10 + sqrt(99))}, 1e-14)
    near(vals(f64{0, 0.5, 1, -2}:erf()), {0, 0.5204998778130465, 0.8427007929497149, -0.9953222650189527}, 1e-15)
    near(vals(f64{0, 0.5, -2}:erfc()), {1, 1 - 0.5204998778130465, 1.9953222650189527}, 1e-15)
  end)

  it("float32 sin and cos are within an ulp of the exact value, small to huge arguments", function()
    local xs32 = {0, -0, 1e-30, 0.5, 1, 3.14159265, 100, -1234.5, 3e4, 1e5, -8e6, 3e7, 1e8, 1e20, -3.4e38}
    for i = 1, 200 do xs32[#xs32 + 1] = (i - 100) * 0.7318 end
    local x = lunet.tensor(xs32)
    local xf = vals(x)   -- the float32 values themselves
    for _, name in ipairs{"sin", "cos"} do
      local got = vals(x[name](x))
      for i = 1, #xf do
        local want = math[name](xf[i])
        local ulp = 2.0 ^ (math.max(select(2, math.frexp(math.abs(want))), -125) - 24)
        assert(math.abs(got[i] - want) <= ulp,
               ("%s(%.9g) = %.9g, want %.9g"):format(name, xf[i], got[i], want))
      end
    end
    assert.is_true(isnan(vals(lunet.tensor{inf, -inf, nan}:sin())[1]))
    assert.is_true(isnan(vals(lunet.tensor{inf}:cos())[1]))
    assert.is_true(isnegzero(vals(lunet.tensor{-0.0}:sin())[1]))
  end)

  it("rounds half to even, keeps -0, and leaves int64 as it is", function()
    local x = f64{-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -0.2, 3.7, inf, -inf}
    assert.are.same({-2, -2, -0.0, 0, 2, 2, -0.0, 4, inf, -inf}, vals(x:round()))
    assert.is_true(isnegzero(vals(x:round())[3]))
    assert.is_true(isnegzero(vals(x:ceil())[7]))
    assert.are.same({-3, -2, -1, 0, 1, 2, -1, 3, inf, -inf}, vals(x:floor()))
    assert.are.same({-2, -1, -0.0, 0, 1, 2, -0.0, 3, inf, -inf}, vals(x:trunc()))
    near(vals(f64{-2.5, 3.75, -0.25}:frac()), {-0.5, 0.75, -0.25})
    local k = i64{-3, 0, 7}
    for _, name in ipairs{"floor", "ceil", "round", "trunc"} do
      assert.are.equal("int64", k[name](k):dtype())
      assert.are.same({-3, 0, 7}, vals(k[name](k)))
    end
    assert.are.equal("int64", k:square():dtype())
    assert.are.same({9, 0, 49}, vals(k:square()))
    assert.are.equal("float32", k:sin():dtype())   -- int64 computes in float32, as PyTorch
  end)

  it("isnan, isinf, isfinite give 0/1 of the input's dtype, without gradient", function()
    local x = lunet.tensor({1, nan, inf, -inf, -0.0}, {requires_grad = true})
    assert.are.same({0, 1, 0, 0, 0}, vals(x:isnan()))
    assert.are.same({0, 0, 1, 1, 0}, vals(x:isinf()))
    assert.are.same({1, 0, 0, 0, 1}, vals(lunet.isfinite(x)))
    assert.are.equal("float32", x:isnan():dtype())
    assert.is_false(x:isnan():requires_grad())
    local k = i64{1, -5}
    assert.are.same({0, 0}, vals(k:isnan()))
    assert.are.same({1, 1}, vals(k:isfinite()))
    assert.are.equal("int64", k:isinf():dtype())
  end)

  it("nan_to_num: 0 and the dtype's extremes by default, or the values given; its gradient", function()
    local x = f64{nan, inf, -inf, 2}
    assert.are.same({0, 1.7976931348623157e308, -1.7976931348623157e308, 2}, vals(x:nan_to_num()))
    assert.are.same({0, 3.4028234663852886e38, -3.4028234663852886e38, 2},
                    vals(lunet.tensor{nan, inf, -inf, 2}:nan_to_num()))
    assert.are.same({-1, 5, -5, 2}, vals(x:nan_to_num(-1, 5, -5)))
    assert.are.same({inf, 0, 0, 2}, vals(lunet.tensor{nan, inf, -inf, 2}:nan_to_num(1e300, 0, 0)))
    local l = lunet.tensor({nan, inf, 3}, {dtype = "float64", requires_grad = true})
    l:nan_to_num():sum():backward()
    assert.are.same({0, 0, 1}, vals(l.grad))
    assert.are.same({4, -2}, vals(i64{4, -2}:nan_to_num()))
  end)

  it("softplus (linear past the threshold), hardtanh, silu, mish", function()
    near(vals(f64{-1, 0, 1, 30}:softplus()), {log(1 + exp(-1)), log(2), log(1 + exp(1)), 30}, 1e-15)
    near(vals(f64{0.5, 15}:softplus(2, 20)), {log(1 + exp(1)) / 2, 15}, 1e-15)
    assert.are.same({-1, -0.5, 1}, vals(f64{-3, -0.5, 3}:hardtanh()))
    assert.are.same({-2, 0.5, 2}, vals(f64{-3, 0.5, 3}:hardtanh(-2, 2)))
    near(vals(f64{-30, 50}:mish()), {-30 * exp(-30), 50}, 1e-24)   -- tanh(softplus(-30)) ≈ e^-30
    -- hardtanh's gradient is zero at the bounds themselves (clamp's is one)
    local x = lunet.tensor({-1, 0, 1}, {dtype = "float64", requires_grad = true})
    x:hardtanh():sum():backward()
    assert.are.same({0, 1, 0}, vals(x.grad))
  end)

  it("gradients: sin's is cos, rounding's is zero, atan2's both partials", function()
    local x = lunet.tensor({0.3, -1.2}, {dtype = "float64", requires_grad = true})
    x:sin():sum():backward()
    near(vals(x.grad), {math.cos(0.3), math.cos(-1.2)}, 1e-15)
    local y = lunet.tensor({0.3, -1.2}, {dtype = "float64", requires_grad = true})
    y:floor():sum():backward()
    assert.are.same({0, 0}, vals(y.grad))
    local a = lunet.tensor({1.0}, {dtype = "float64", requires_grad = true})
    local b = lunet.tensor({2.0}, {dtype = "float64", requires_grad = true})
    lunet.atan2(a, b):sum():backward()
    near(vals(a.grad), {2 / 5}, 1e-15)
    near(vals(b.grad), {-1 / 5}, 1e-15)
  end)
end)

describe("atan2, fmod, remainder", function()
  it("atan2 in every quadrant, with a number", function()
    near(vals(f64{1, 1, -1, -1}:atan2(f64{1, -1, 1, -1})),
         {math.atan(1, 1), math.atan(1, -1), math.atan(-1, 1), math.atan(-1, -1)}, 1e-15)
    near(vals(f64{1, -1}:atan2(0)), {math.pi / 2, -math.pi / 2}, 1e-15)
  end)

  it("fmod has the dividend's sign, remainder the divisor's, in float and int64", function()
    local a, b = {-7, 7, -7, 7, 6}, {3, -3, -3, 3, 3}
    assert.are.same({-1, 1, -1, 1, 0}, vals(f64(a):fmod(f64(b))))
    assert.are.same({2, -2, -1, 1, 0}, vals(f64(a):remainder(f64(b))))
    assert.are.same({-1, 1, -1, 1, 0}, vals(i64(a):fmod(i64(b))))
    assert.are.same({2, -2, -1, 1, 0}, vals(i64(a):remainder(i64(b))))
    assert.are.equal("int64", i64(a):remainder(3):dtype())
    near(vals(f64{-7.5, 7.5}:remainder(2)), {0.5, 1.5})
    near(vals(f64{-7.5, 7.5}:fmod(2)), {-1.5, 1.5})
    assert.is_true(isnan(vals(f64{1}:fmod(0))[1]))
    assert.is_true(isnan(vals(f64{1}:remainder(0))[1]))
    -- int64's smallest value by -1 (a trap in C) is 0
    assert.are.same({0}, vals(i64{math.mininteger}:fmod(-1)))
    assert.are.same({0}, vals(i64{math.mininteger}:remainder(-1)))
  end)

  it("remainder's gradient: 1 for a, -floor(a/b) for b", function()
    local a = lunet.tensor({7.5}, {dtype = "float64", requires_grad = true})
    local b = lunet.tensor({-2.0}, {dtype = "float64", requires_grad = true})
    a:remainder(b):sum():backward()
    assert.are.same({1}, vals(a.grad))
    assert.are.same({4}, vals(b.grad))
  end)
end)

describe("logical and bitwise ops", function()
  it("logical ops take nonzero as true and give 0/1 of the promoted dtype", function()
    local a, b = f64{0, 0, 2, -1}, f64{0, 3, 0, 0.5}
    assert.are.same({0, 0, 0, 1}, vals(a:logical_and(b)))
    assert.are.same({0, 1, 1, 1}, vals(lunet.logical_or(a, b)))
    assert.are.same({0, 1, 1, 0}, vals(a:logical_xor(b)))
    assert.are.same({1, 1, 0, 0}, vals(a:logical_not()))
    assert.are.equal("float64", a:logical_and(i64{1, 1, 1, 1}):dtype())
    assert.are.same({0, 1}, vals(i64{0, 5}:logical_and(1)))
  end)

  it("bitwise ops on int64, by name, alias and operator", function()
    local a, b = i64{12, -1, 5}, i64{10, 7, 0}
    assert.are.same({8, 7, 0}, vals(a:bitwise_and(b)))
    assert.are.same({8, 7, 0}, vals(a:band(b)))
    assert.are.same({8, 7, 0}, vals(a & b))
    assert.are.same({14, -1, 5}, vals(a | b))
    assert.are.same({6, -8, 5}, vals(a ~ b))
    assert.are.same({6, -8, 5}, vals(lunet.bxor(a, b)))
    assert.are.same({-13, 0, -6}, vals(~a))
    assert.are.same({-13, 0, -6}, vals(a:bitwise_not()))
    assert.are.same({4, 4, 4}, vals(a & 4 | 4))
    assert.are.same({0, 1, 1}, vals(3 & i64{0, 1, 5}))
    -- on float (0/1 mask) tensors, the operators are the logical ops
    assert.are.same({0, 1, 0}, vals(lunet.tensor{1, 1, 0} & lunet.tensor{0, 1, 1}))
    assert.are.same({0, 0, 1}, vals(~lunet.tensor{1, 2, 0}))
  end)
end)

describe("lerp", function()
  it("a + w (b - a), exact at both ends, with a number or a tensor weight", function()
    local a, b = lunet.tensor{1, 0.1, -3}, lunet.tensor{3, 0.7, 1e-3}
    assert.are.same(vals(a), vals(a:lerp(b, 0)))
    assert.are.same(vals(b), vals(a:lerp(b, 1)))
    near(vals(lunet.lerp(f64{1, 2}, f64{3, 5}, 0.25)), {1.5, 2.75})
    near(vals(lunet.lerp(f64{1, 2}, f64{3, 5}, f64{0.5, 1})), {2, 5})
    near(vals(lunet.lerp(f64{{1}, {2}}, f64{3, 5}, 0.5)), {{2, 3}, {2.5, 3.5}})   -- broadcast
  end)

  it("its gradient reaches a, b and a tensor weight", function()
    local a = lunet.tensor({1.0, 2.0}, {dtype = "float64", requires_grad = true})
    local b = lunet.tensor({3.0, 6.0}, {dtype = "float64", requires_grad = true})
    local w = lunet.tensor({0.25, 0.75}, {dtype = "float64", requires_grad = true})
    lunet.lerp(a, b, w):sum():backward()
    near(vals(a.grad), {0.75, 0.25})
    near(vals(b.grad), {0.25, 0.75})
    near(vals(w.grad), {2, 4})
  end)
end)

describe("in-place forms", function()
  it("sin_, floor_, exp_ change the tensor and return it", function()
    local x = f64{0.5, -1.5}
    local r = x:sin_()
    assert.are.equal(x, r)
    near(vals(x), {math.sin(0.5), math.sin(-1.5)}, 1e-15)
    assert.are.same({-1, 2}, vals(f64{-0.5, 2.5}:floor_()))
    assert.are.same({2, 2}, vals(f64{1.5, 2.5}:round_()))
    assert.are.same({3, -4}, vals(i64{3, -4}:floor_()))
    assert.are.same({9, 16}, vals(i64{3, -4}:square_()))
    local v = lunet.tensor{1, 2, 3, 4}:view(2, 2)
    v:select(2, 1):neg_()   -- a strided view
    assert.are.same({{-1, 2}, {-3, 4}}, vals(v))
  end)

  it("refuses a float result in an int64 tensor, and a leaf that requires grad", function()
    assert.matches("sin_: its float result cannot be stored in an int64 tensor",
                   errmsg(function() return i64{1}:sin_() end), 1, true)
    local l = lunet.tensor({1}, {requires_grad = true})
    assert.matches("exp_: a tensor that requires grad cannot be changed in place",
                   errmsg(function() return l:exp_() end), 1, true)
  end)
end)

describe("element-wise bad input", function()
  local x = lunet.tensor{1, 2}

  it("a non-tensor argument names the function and the argument", function()
    for _, name in ipairs{"sin", "tan", "floor", "round", "isnan", "logical_not", "mish", "silu",
                          "softplus", "hardtanh", "nan_to_num", "bitwise_not", "sin_", "floor_"} do
      local ok, e = pcall(function() local r = x[name]("x"); return r end)
      assert.is_false(ok)
      assert.matches("^[^:]*vocab_ewise_spec%.lua:%d+: bad argument #1 to '" .. name
                     .. "' %(lunet%.Tensor expected, got string%)$", e)
      local _, e2 = pcall(x[name], "x")   -- no call site at all: the name is found all the same
      assert.matches("bad argument #1 to '" .. name .. "'", e2, 1, true)
    end
    for _, name in ipairs{"atan2", "fmod", "remainder", "logical_and", "logical_or", "logical_xor",
                          "bitwise_and", "bitwise_or", "bitwise_xor", "band", "bor", "bxor"} do
      assert.matches("bad argument #2 to '" .. name .. "' %(lunet%.Tensor or number expected, got string%)",
                     errmsg(function() return x[name](x, "y") end))
      assert.is_truthy(errmsg(function() return lunet[name]({}, x) end))
    end
    -- (a method call counts self out of the argument numbers, as Lua does)
    assert.matches("bad argument #2 to 'lerp' (number or lunet.Tensor (the weight) expected",
                   errmsg(function() return x:lerp(x, "w") end), 1, true)
    assert.matches("bad argument #3 to 'lerp'", errmsg(function() return lunet.lerp(x, x, {}) end), 1, true)
    assert.matches("bad argument #1 to 'lerp'", errmsg(function() return x:lerp(1, 0.5) end), 1, true)
  end)

  it("a shape mismatch names the op and both shapes", function()
    local y = lunet.tensor{1, 2, 3}
    for _, name in ipairs{"atan2", "fmod", "remainder", "logical_and", "logical_or"} do
      assert.matches(name .. ": shapes [2] and [3] do not broadcast", errmsg(function() return x[name](x, y) end), 1, true)
    end
    assert.matches("bitwise_and: shapes [2] and [3] do not broadcast",
                   errmsg(function() return i64{1, 2} & i64{1, 2, 3} end), 1, true)
    assert.matches("lerp: shapes [2] and [3] do not broadcast", errmsg(function() return x:lerp(y, 0.5) end), 1, true)
    assert.matches("lerp: shapes [2] and [3] do not broadcast", errmsg(function() return x:lerp(x, y) end), 1, true)
  end)

  it("int64 where float is required, float where int64 is, int64 division by zero", function()
    assert.matches("lerp: needs float tensors, got int64", errmsg(function() return i64{1}:lerp(i64{2}, 0.5) end), 1, true)
    assert.matches("bitwise_and: bitwise ops need int64 tensors, got float32 and float32 (use t:long())",
                   errmsg(function() return x:band(x) end), 1, true)
    assert.matches("bitwise_not: bitwise ops need an int64 tensor, got float32",
                   errmsg(function() return x:bitwise_not() end), 1, true)
    assert.matches("fmod: integer division by zero", errmsg(function() return i64{1, 2}:fmod(i64{1, 0}) end), 1, true)
    assert.matches("remainder: integer division by zero", errmsg(function() return i64{1}:remainder(0) end), 1, true)
  end)

  it("bad parameters", function()
    assert.matches("hardtanh: expects lo <= hi, got lo = 1, hi = -1", errmsg(function() return x:hardtanh(1, -1) end), 1, true)
    assert.matches("softplus: beta must be finite and nonzero", errmsg(function() return x:softplus(0) end), 1, true)
    assert.matches("softplus: beta must be finite and nonzero", errmsg(function() return x:softplus(1, nan) end), 1, true)
    assert.matches("bad argument #1 to 'nan_to_num' (number expected", errmsg(function() return x:nan_to_num("a") end), 1, true)
  end)
end)

-- The kernels' fast paths (a contiguous row, lanes across threads) against the general ones
-- and naive loops: the same bits whichever path or thread count computes them.
describe("fast paths", function()
  local threads = lunet.get_num_threads()
  after_each(function() lunet.set_num_threads(threads) end)
  local function flat(t) return vals(t:contiguous():view(-1)) end

  it("where: a random mask over many rows, any mask dtype, contiguous or not, as the naive select", function()
    local a, b = lunet.randn(300, 50), lunet.randn(300, 50)
    local u = lunet.rand(300, 50)
    local av, bv, uv = flat(a), flat(b), flat(u)
    local want = {}
    for i = 1, #av do want[i] = uv[i] < 0.5 and av[i] or bv[i] end
    for _, n in ipairs{1, 2} do
      lunet.set_num_threads(n)
      for _, dt in ipairs{"float32", "float64", "int64"} do
        local m = u:lt(0.5):to(dt)
        assert.are.same(want, flat(lunet.where(m, a, b)))                          -- one pass
        assert.are.same(want, flat(lunet.where(m:t():contiguous():t(), a, b)))      -- strided mask
      end
      assert.are.same(want, flat(lunet.where(u:lt(0.5), a:t():contiguous():t(), b)))   -- strided a
      local s = flat(lunet.where(u:lt(0.5), a, 0))                                      -- a number
      for i = 1, #av do assert(s[i] == (uv[i] < 0.5 and av[i] or 0)) end
    end
  end)

  it("sin, cos: contiguous, in place and strided give the same bits, huge values included", function()
    local x = lunet.randn(200, 40) * 30
    x[{1, 1}] = 3e7; x[{1, 2}] = -1e20; x[{200, 40}] = 1e8
    for _, name in ipairs{"sin", "cos"} do
      local want = flat(x[name](x))
      assert.are.same(want, flat(x:clone()[name .. "_"](x:clone())))
      assert.are.same(want, flat(x:t():contiguous():t()[name](x:t():contiguous():t())))
      local xv = flat(x)
      for _, i in ipairs{1, 2, 8000} do
        local w = math[name](xv[i])
        assert(math.abs(want[i] - w) <= 2 ^ (select(2, math.frexp(math.abs(w))) - 24), name .. " of " .. xv[i])
      end
    end
  end)

  it("sum(dim): rows, columns and one row of columns, the same bits on 1 and 2 threads", function()
    for _, c in ipairs{{{300, 50}, 2}, {{300, 50}, 1}, {{1, 5000}, 1}, {{3, 7}, 2}, {{2, 40, 60}, 2}} do
      local x = lunet.randn(c[1])
      lunet.set_num_threads(1)
      local one = flat(x:sum(c[2]))
      lunet.set_num_threads(2)
      assert.are.same(one, flat(x:sum(c[2])))
      assert.are.same(flat(x:double():sum(c[2]):float()), one)   -- sums in double, rounded once
    end
    assert.is_false(isnegzero(vals(lunet.tensor{{-0.0}}:sum(2))[1]))   -- 0 + -0, as before
  end)
end)
