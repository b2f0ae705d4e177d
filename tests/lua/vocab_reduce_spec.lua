-- vocab_reduce_spec.lua: reductions, scans, sorting and selection (issue 13) against naive
-- implementations written here, their gradients, and the error of each bad input.
local lunet = require "lunet"

local h = dofile("tests/lua/helpers.lua")
local vals, errmsg, f64, i64 = h.vals, h.errmsg, h.f64, h.i64

-- a deterministic list of n values with repeats (a small LCG)
local function list(n, mod, seed)
  local t, s = {}, seed or 7
  for i = 1, n do s = (s * 1103515245 + 12345) % 2147483648; t[i] = (s % mod) - mod // 2 end
  return t
end
-- the stable order of a list (insertion sort: the naive reference), ascending or descending
local function order(a, desc)
  local p = {}
  for i = 1, #a do
    local j = #p
    while j >= 1 and (desc and a[p[j]] < a[i] or not desc and a[p[j]] > a[i]) do p[j + 1] = p[j]; j = j - 1 end
    p[j + 1] = i
  end
  return p
end
local function pick(a, p) local r = {} for i = 1, #p do r[i] = a[p[i]] end return r end

describe("sort, argsort, topk, kthvalue", function()
  it("sort is stable and matches insertion sort, ascending and descending", function()
    local a = list(200, 9)
    for _, desc in ipairs{false, true} do
      local v, i = f64(a):sort(1, {descending = desc})
      local p = order(a, desc)
      assert.same(p, vals(i))
      assert.same(pick(a, p), vals(v))
      assert.equal("int64", i:dtype())
    end
    assert.same(order(a, true), vals(lunet.argsort(f64(a), {descending = true})))
  end)
  it("sorts each row of a matrix along any dim; NaN is the greatest", function()
    local v, i = f64{{3, 0 / 0, 1}, {2, 2, -5}}:sort()
    assert.same({{3, 1, 2}, {3, 1, 2}}, vals(i))
    assert.equal(1, vals(v)[1][1]); assert.is_true(vals(v)[1][3] ~= vals(v)[1][3])
    local _, j = f64{{3, 1}, {1, 2}}:sort(1)
    assert.same({{2, 1}, {1, 2}}, vals(j))
    local _, d = f64{1, 0 / 0, 3}:sort(1, true)
    assert.same({2, 3, 1}, vals(d))
    local iv, ii = i64{{5, -3}, {9, 9}}:sort(1, true)
    assert.same({{9, 9}, {5, -3}}, vals(iv)); assert.same({{2, 2}, {1, 1}}, vals(ii))
  end)
  it("topk gives the k largest (or smallest) in order, as the first k of a stable sort", function()
    local a = list(300, 50, 3)
    for _, k in ipairs{1, 5, 120, 300} do
      local v, i = f64(a):topk(k)
      local p = order(a, true)
      local want = {}
      for q = 1, k do want[q] = p[q] end
      assert.same(want, vals(i))
      assert.same(pick(a, want), vals(v))
      local _, s = f64(a):topk(k, {largest = false})
      local ps = order(a, false)
      for q = 1, k do assert.equal(ps[q], vals(s)[q]) end
    end
    local v = f64{{1, 9, 3}, {7, 2, 8}}:topk(1, {dim = 1})
    assert.same({{7, 9, 8}}, vals(v))
  end)
  it("kthvalue and median pick from the sorted row; median is the lower one", function()
    local a = list(51, 1000, 11)
    local s = order(a)
    local v, i = f64(a):kthvalue(10)
    assert.equal(a[s[10]], v:item()); assert.equal(s[10], i:item())
    assert.equal(a[s[26]], f64(a):median():item())
    assert.equal(2, f64{4, 1, 2, 3}:median():item())
    local mv, mi = f64{{4, 1, 2, 3}, {0 / 0, 1, 2, 3}}:median(2)
    assert.equal(2, vals(mv)[1]); assert.is_true(vals(mv)[2] ~= vals(mv)[2])
    assert.same({3, 1}, vals(mi))
    assert.same({1, 1}, f64{{4, 1, 2, 3}}:median(2, true):shape())
  end)
  it("mode gives the most frequent value (the smallest of a tie)", function()
    local v, i = f64{{3, 1, 3, 1, 2}, {5, 5, 4, 4, 4}}:mode()
    assert.same({1, 4}, vals(v))
    assert.same({4, 5}, vals(i))
  end)
  it("values carry gather's gradient", function()
    local x = h.leaf{3, 1, 2}
    local v = x:sort(1, {descending = true})
    v:mul(f64{1, 10, 100}):sum():backward()
    assert.same({1, 100, 10}, vals(x.grad))
  end)
  it("refuse bad k and dims", function()
    local x = f64{1, 2, 3}
    assert.equal("topk: k = 4 is out of range for dimension 1 of size 3 (shape [3])", errmsg(x.topk, x, 4))
    assert.is_truthy(errmsg(x.kthvalue, x, 0):match("k = 0 is out of range"))
    assert.is_truthy(errmsg(x.sort, x, 2):match("dimension 2 out of range"))
    assert.is_truthy(errmsg(x.sort, x, 0):match("dims are 1%-based"))
    assert.is_truthy(errmsg(x.median, lunet.zeros(0), 1):match("size 0"))
    assert.is_truthy(errmsg(x.topk, x, 1, {largest = 1}):match("largest must be a boolean"))
  end)
end)

describe("unique and nonzero", function()
  it("unique gives the sorted distinct values, the inverse and the counts", function()
    local a = list(100, 7, 5)
    local seen, u = {}, {}
    for _, x in ipairs(a) do if not seen[x] then seen[x] = true; u[#u + 1] = x end end
    table.sort(u)
    local pos, cnt = {}, {}
    for k, x in ipairs(u) do pos[x] = k; cnt[k] = 0 end
    local inv = {}
    for k, x in ipairs(a) do inv[k] = pos[x]; cnt[pos[x]] = cnt[pos[x]] + 1 end
    local v, i, c = i64(a):unique{return_inverse = true, return_counts = true}
    assert.same(u, vals(v)); assert.same(inv, vals(i)); assert.same(cnt, vals(c))
    local v2, c2 = f64(a):unique{return_counts = true}
    assert.same(u, vals(v2)); assert.same(cnt, vals(c2))
    assert.is_truthy(errmsg(lunet.unique, f64(a), {dim = 1}):match("not supported"))
  end)
  it("nonzero gives 1-based coordinates in row-major order, or one tensor per dim", function()
    local x = f64{{0, 3, 0}, {1, 0, 0 / 0}}
    assert.same({{1, 2}, {2, 1}, {2, 3}}, vals(x:nonzero()))
    local t = x:nonzero{as_tuple = true}
    assert.same({1, 2, 2}, vals(t[1])); assert.same({2, 1, 3}, vals(t[2]))
    assert.same({0, 2}, lunet.zeros(2, 2):nonzero():shape())
  end)
end)

describe("scans", function()
  it("cumsum, cumprod, cummax and cummin match their loops", function()
    local a = list(40, 7, 9)
    local cs, cp, mx, mi, ix, in_ = {}, {}, {}, {}, {}, {}
    for k, x in ipairs(a) do
      cs[k] = (cs[k - 1] or 0) + x
      cp[k] = (cp[k - 1] or 1) * (x == 0 and 1 or x % 3 + 1)
      if k == 1 or x >= mx[k - 1] then mx[k], ix[k] = x, k else mx[k], ix[k] = mx[k - 1], ix[k - 1] end
      if k == 1 or x <= mi[k - 1] then mi[k], in_[k] = x, k else mi[k], in_[k] = mi[k - 1], in_[k - 1] end
    end
    assert.same(cs, vals(f64(a):cumsum(1)))
    assert.same(cs, vals(i64(a):cumsum(1)))
    local b = {}
    for k, x in ipairs(a) do b[k] = x == 0 and 1 or x % 3 + 1 end
    assert.same(cp, vals(f64(b):cumprod(1)))
    local v, i = f64(a):cummax(1)
    assert.same(mx, vals(v)); assert.same(ix, vals(i))
    local v2, i2 = f64(a):cummin(-1)
    assert.same(mi, vals(v2)); assert.same(in_, vals(i2))
    assert.same({{1, 2}, {4, 6}}, vals(f64{{1, 2}, {3, 4}}:cumsum(1)))
  end)
  it("cumprod's gradient is exact through zeros", function()
    local x = h.leaf{2, 0, 3, 4}
    x:cumprod(1):sum():backward()
    -- y = 2, 0, 0, 0: dy/dx1 = 1, dy/dx2 = 2 + 2*3 + 2*3*4, the rest 0
    assert.same({1, 32, 0, 0}, vals(x.grad))
  end)
  it("refuse a missing dim", function()
    local x = f64{1, 2}
    assert.is_truthy(errmsg(x.cumsum, x):match("number expected"))
    assert.is_truthy(errmsg(x.cummax, x, 3):match("dimension 3 out of range"))
  end)
end)

describe("reductions", function()
  it("all, any, count_nonzero", function()
    local x = f64{{1, 0, 2}, {3, 4, 5}}
    assert.same({0, 1}, vals(x:all(2))); assert.same({{1}, {1}}, vals(x:any(2, true)))
    assert.equal(0, x:all():item()); assert.equal(1, lunet.any(x):item())
    assert.equal(1, lunet.zeros(0):all():item()); assert.equal(0, lunet.zeros(0):any():item())
    assert.equal("float64", x:all():dtype())
    assert.equal(5, x:count_nonzero():item()); assert.equal("int64", x:count_nonzero():dtype())
    assert.same({2, 1, 2}, vals(x:count_nonzero(1)))
  end)
  it("norm for p = 2, 1, inf, -inf, 0, 3 and fro against the formula", function()
    local a = list(30, 11, 2)
    local function ref(p)
      if p == math.huge then local m = 0 for _, x in ipairs(a) do m = math.max(m, math.abs(x)) end return m end
      if p == -math.huge then local m = math.huge for _, x in ipairs(a) do m = math.min(m, math.abs(x)) end return m end
      if p == 0 then local c = 0 for _, x in ipairs(a) do if x ~= 0 then c = c + 1 end end return c end
      local s = 0
      for _, x in ipairs(a) do s = s + math.abs(x) ^ p end
      return s ^ (1 / p)
    end
    for _, p in ipairs{2, 1, math.huge, -math.huge, 0, 3} do
      h.near(ref(p), f64(a):norm(p):item(), 1e-9)
    end
    h.near(ref(2), f64(a):norm("fro"):item(), 1e-9)
    h.near({5, 13}, vals(f64{{3, 4}, {5, 12}}:norm(2, 2)), 1e-12)
    assert.is_truthy(errmsg(lunet.norm, f64(a), "nuc"):match("p must be"))
  end)
  it("logsumexp is stable and matches log(sum(exp)) where that is finite", function()
    local x = f64{{1, 2, 3}, {1000, 1000, -math.huge}}
    local y = vals(x:logsumexp(2))
    h.near(math.log(math.exp(1) + math.exp(2) + math.exp(3)), y[1], 1e-12)
    h.near(1000 + math.log(2), y[2], 1e-9)
    assert.equal(-math.huge, f64{-math.huge, -math.huge}:logsumexp(1):item())
    assert.same({2, 1}, x:logsumexp(2, true):shape())
    local l = h.leaf{1, 2}
    l:logsumexp(1):backward()
    h.near({1 / (1 + math.exp(1)), math.exp(1) / (1 + math.exp(1))}, vals(l.grad), 1e-12)
    assert.is_truthy(errmsg(x.logsumexp, x):match("a dim is required"))
  end)
  it("aminmax gives min and max, var/std take unbiased and correction", function()
    local lo, hi = f64{{1, 5}, {-2, 3}}:aminmax{dim = 1}
    assert.same({-2, 3}, vals(lo)); assert.same({1, 5}, vals(hi))
    local a, b = f64{4, -1, 7}:aminmax()
    assert.equal(-1, a:item()); assert.equal(7, b:item())
    local x = f64{1, 2, 3, 4}
    h.near(1.25, x:var{unbiased = false}:item()); h.near(5 / 3, x:var{unbiased = true}:item())
    h.near(math.sqrt(1.25), x:std{correction = 0}:item()); h.near(5 / 3, x:var(1, false, {correction = 1}):item())
    assert.is_truthy(errmsg(x.aminmax, x, 3):match("options must be a table"))
  end)
end)

describe("reductions of empty tensors with a huge dim", function()
  -- [2^40, 0] reduced over its first dim: an empty result at once, never a walk over 2^40 empty
  -- rows (a kernel that loops over the reduced dim hangs here in unoptimized builds)
  it("give an empty result without running a kernel", function()
    local t = lunet.zeros(1 << 40, 0)
    for _, x in ipairs({t, t:double(), t:long()}) do
      local fns = {"sum", "prod", "count_nonzero", "all", "any"}
      if x:dtype() ~= "int64" then fns[#fns + 1] = "mean"; fns[#fns + 1] = "logsumexp" end
      for _, f in ipairs(fns) do
        assert.are.same({0}, x[f](x, 1):shape(), f .. " " .. x:dtype())
      end
      assert.are.same({1 << 40, 0}, x:cumsum(1):shape())
    end
    assert.are.same({0}, t:long():sum(1):shape())
    assert.are.same({0}, t:count_nonzero(-2):shape())
    assert.are.equal(0, t:sum():item())
  end)
end)
