-- vocab_shape_spec.lua: the shape vocabulary (issue 13): chunk/split/unbind, flip, roll,
-- tile/repeat, repeat_interleave, tril/triu, diag/diagonal/trace, movedim, swapaxes, meshgrid,
-- broadcast_to and pad, against naive loops written here; views where PyTorch returns views;
-- gradients (testing.gradcheck in float64); every bad input's error.
local lunet = require "lunet"

local h = dofile("tests/lua/helpers.lua")
local vals, errmsg, f64, i64, near = h.vals, h.errmsg, h.f64, h.i64, h.near

-- a deterministic r x c table with distinct values
local function mat(r, c)
  local t = {}
  for i = 1, r do
    t[i] = {}
    for j = 1, c do t[i][j] = (i - 1) * c + j + (i * j % 3) / 4 end
  end
  return t
end
-- the table m[i][j] for i in 1..r, j in 1..c from f(i, j)
local function build(r, c, f)
  local t = {}
  for i = 1, r do
    t[i] = {}
    for j = 1, c do t[i][j] = f(i, j) end
  end
  return t
end
local function shape(t) return t:shape() end
local function gradcheck(f, inputs) assert(lunet.testing.gradcheck(f, inputs)) end

describe("chunk, split, unbind", function()
  it("chunk gives ceil(size / n) pieces as views, the last smaller", function()
    local x = f64(mat(5, 3))
    local c = x:chunk(2)
    assert.are.equal(2, #c)
    near(vals(c[1]), {mat(5, 3)[1], mat(5, 3)[2], mat(5, 3)[3]})
    near(vals(c[2]), {mat(5, 3)[4], mat(5, 3)[5]})
    assert.are.same({5, 1}, shape(x:chunk(3, 2)[3]))
    assert.are.equal(3, #lunet.chunk(x, 4, -1))   -- 3 columns make 3 pieces of 1
    c[1][1] = 100                                 -- a view: writes reach x
    assert.are.equal(100, x[1][1])
  end)
  it("split by a size or by a list of sizes", function()
    local x = f64(mat(3, 5))
    local s = x:split(2, 2)
    assert.are.same({{3, 2}, {3, 2}, {3, 1}}, {shape(s[1]), shape(s[2]), shape(s[3])})
    local m = mat(3, 5)
    near(vals(s[3]), {{m[1][5]}, {m[2][5]}, {m[3][5]}})
    local t = lunet.split(x, {1, 4}, -1)
    near(vals(t[2]), build(3, 4, function(i, j) return m[i][j + 1] end))
  end)
  it("unbind removes the dim", function()
    local x = f64(mat(2, 3))
    local u = x:unbind(2)
    assert.are.equal(3, #u)
    near(vals(u[2]), {mat(2, 3)[1][2], mat(2, 3)[2][2]})
    assert.are.equal(2, #lunet.unbind(x))
  end)
  it("pass gradients through the pieces", function()
    gradcheck(function(a) return a:chunk(2, 2)[2] * 3 end, {f64(mat(2, 4)):requires_grad_()})
    gradcheck(function(a) return a:split({1, 2})[2]:sum() end, {f64(mat(3, 2)):requires_grad_()})
    gradcheck(function(a) return a:unbind(1)[2] end, {f64(mat(2, 3)):requires_grad_()})
  end)
  it("reject bad input", function()
    local x = f64(mat(3, 4))
    assert.are.equal("chunk: the number of chunks must be at least 1, got 0", errmsg(function() x:chunk(0) end))
    assert.matches("split: sizes sum to 2, but dimension 1 has size 3 (shape [3, 4])", errmsg(function() x:split({1, 1}) end), 1, true)
    assert.matches("split: the piece size must be at least 1", errmsg(function() x:split(0) end), 1, true)
    assert.matches("dimension 0 is invalid", errmsg(function() x:unbind(0) end), 1, true)
    assert.matches("0-d tensor", errmsg(function() lunet.tensor(1):chunk(1) end), 1, true)
  end)
end)

describe("flip, roll", function()
  it("flip reverses the given dims", function()
    local m = mat(3, 4)
    near(vals(f64(m):flip(1)), build(3, 4, function(i, j) return m[4 - i][j] end))
    near(vals(f64(m):flip{1, -1}), build(3, 4, function(i, j) return m[4 - i][5 - j] end))
    assert.are.same({3, 2, 1}, vals(lunet.flip(i64{1, 2, 3}, 1)))
  end)
  it("roll shifts with wrap-around, with or without dims", function()
    local m = mat(3, 4)
    near(vals(f64(m):roll(1, 2)), build(3, 4, function(i, j) return m[i][(j - 2) % 4 + 1] end))
    near(vals(f64(m):roll({-1, 5}, {1, 2})),
         build(3, 4, function(i, j) return m[(i) % 3 + 1][(j - 6) % 4 + 1] end))
    assert.are.same({{6, 1, 2}, {3, 4, 5}}, vals(i64{{1, 2, 3}, {4, 5, 6}}:roll(1)))   -- flattened
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, vals(lunet.roll(i64{{1, 2, 3}, {4, 5, 6}}, 3, 2)))
  end)
  it("are differentiable", function()
    gradcheck(function(a) return a:flip(2) end, {f64(mat(2, 3)):requires_grad_()})
    gradcheck(function(a) return a:roll(2, 1) end, {f64(mat(3, 2)):requires_grad_()})
  end)
  it("reject bad dims", function()
    assert.matches("flip: dimension 1 repeats", errmsg(function() f64(mat(2, 2)):flip(1, 1) end), 1, true)
    assert.are.equal("roll: 2 shifts but 1 dims", errmsg(function() f64(mat(2, 2)):roll({1, 2}, {1}) end))
    assert.matches("roll: dimension 3 out of range", errmsg(function() f64(mat(2, 2)):roll(1, 3) end), 1, true)
  end)
end)

describe("tile, repeat, repeat_interleave", function()
  it("tile repeats the whole tensor; repeat is the same", function()
    local m = mat(2, 3)
    local want = build(4, 9, function(i, j) return m[(i - 1) % 2 + 1][(j - 1) % 3 + 1] end)
    near(vals(f64(m):tile(2, 3)), want)
    near(vals(f64(m)["repeat"](f64(m), {2, 3})), want)
    assert.are.same({2, 2, 3}, shape(f64(m):tile(2, 1, 1)))    -- more counts add dims
    assert.are.same({2, 6}, shape(lunet.tile(f64(m), 2)))       -- fewer repeat the last dims
  end)
  it("repeat_interleave repeats each element in place", function()
    assert.are.same({1, 1, 2, 2, 3, 3}, vals(i64{1, 2, 3}:repeat_interleave(2)))
    assert.are.same({{1, 1, 2, 2}, {3, 3, 4, 4}}, vals(i64{{1, 2}, {3, 4}}:repeat_interleave(2, 2)))
    assert.are.same({{1, 2}, {3, 4}, {3, 4}}, vals(i64{{1, 2}, {3, 4}}:repeat_interleave(i64{1, 2}, 1)))
    assert.are.same({1, 1, 2, 2, 3, 3, 4, 4}, vals(lunet.repeat_interleave(i64{{1, 2}, {3, 4}}, 2)))
  end)
  it("are differentiable", function()
    gradcheck(function(a) return a:tile(2, 2) end, {f64(mat(2, 3)):requires_grad_()})
    gradcheck(function(a) return a:repeat_interleave(i64{0, 3}, 1) end, {f64(mat(2, 3)):requires_grad_()})
  end)
  it("reject bad counts", function()
    assert.matches("tile: negative repetition count -1", errmsg(function() f64(mat(2, 2)):tile(-1, 1) end), 1, true)
    assert.matches("repeat_interleave: negative repeat count -2",
                   errmsg(function() f64(mat(2, 2)):repeat_interleave(-2) end), 1, true)
    assert.matches("repeats must be an int64 tensor of 1 or 2 elements",
                   errmsg(function() f64(mat(2, 2)):repeat_interleave(i64{1, 2, 3}, 1) end), 1, true)
  end)
  it("check the result's size before copying anything (huge counts)", function()
    -- the first dim alone would be a 26 TB copy: refused by the size check, not by the allocator
    assert.matches("tile: shape [2199023255552, 3298534883328] has too many elements (at most 2^48)",
                   errmsg(function() f64(mat(2, 3)):tile(1 << 40, 1 << 40) end), 1, true)
    assert.matches("tile: the result is too large (2 × 9223372036854775807 in dim 1)",
                   errmsg(function() f64(mat(2, 3)):tile(math.maxinteger, 1) end), 1, true)
    -- a 0 count beside a huge one: an empty result, no copy of the huge dim
    local e = f64(mat(2, 3)):tile(1 << 40, 0)
    assert.are.same({1 << 41, 0}, shape(e))
    assert.are.same({0, 3 << 40}, shape(lunet.zeros(2, 3):tile(0, 1 << 40)))
  end)
end)

describe("tril, triu, diag, diagonal, trace", function()
  local m = mat(3, 4)
  it("tril and triu keep j - i <= k and >= k", function()
    for _, k in ipairs{-1, 0, 2} do
      near(vals(f64(m):tril(k)), build(3, 4, function(i, j) return j - i <= k and m[i][j] or 0 end))
      near(vals(lunet.triu(f64(m), k)), build(3, 4, function(i, j) return j - i >= k and m[i][j] or 0 end))
    end
    assert.are.same({2, 3, 4}, shape(lunet.zeros(2, 3, 4):tril()))   -- batched
  end)
  it("diagonal is a view; diag and trace copy", function()
    local x = f64(m)
    near(vals(x:diagonal()), {m[1][1], m[2][2], m[3][3]})
    near(vals(x:diagonal(1)), {m[1][2], m[2][3], m[3][4]})
    near(vals(x:diagonal(-2)), {m[3][1]})
    assert.are.same({0}, shape(x:diagonal(4)))
    near(vals(lunet.zeros(2, 3, 3):diagonal(0, 2, 3)), {{0, 0, 0}, {0, 0, 0}})
    local d = x:diagonal()
    d[1] = 50
    assert.are.equal(50, x[1][1])
    near(vals(x:diag(1)), {m[1][2], m[2][3], m[3][4]})
    near(vals(f64{1, 2}:diag()), {{1, 0}, {0, 2}})
    near(vals(f64{1, 2}:diag(-1)), {{0, 0, 0}, {1, 0, 0}, {0, 2, 0}})
    near(vals(f64{1, 2}:diag(1)), {{0, 1, 0}, {0, 0, 2}, {0, 0, 0}})
    assert.are.equal(50 + m[2][2] + m[3][3], x:trace():item())
  end)
  it("are differentiable", function()
    gradcheck(function(a) return a:tril(1) end, {f64(mat(3, 3)):requires_grad_()})
    gradcheck(function(a) return a:diagonal(-1) end, {f64(mat(3, 3)):requires_grad_()})
    gradcheck(function(a) return a:diag(2) end, {f64{1, 2}:requires_grad_()})
    gradcheck(function(a) return a:trace() end, {f64(mat(3, 3)):requires_grad_()})
  end)
  it("reject bad shapes and dims", function()
    assert.matches("tril: needs at least 2 dimensions, got shape [3]", errmsg(function() f64{1, 2, 3}:tril() end), 1, true)
    assert.matches("diag: expects a 1-D or 2-D tensor, got shape [2, 2, 2]",
                   errmsg(function() lunet.zeros(2, 2, 2):diag() end), 1, true)
    assert.matches("trace: expects a 2-D tensor", errmsg(function() f64{1}:trace() end), 1, true)
    assert.matches("diagonal: the two dimensions must differ", errmsg(function() f64(m):diagonal(0, 1, 1) end), 1, true)
  end)
end)

describe("movedim, swapaxes, broadcast_to, meshgrid", function()
  it("movedim moves dims and keeps the others in order (a view)", function()
    local x = lunet.zeros(2, 3, 4, 5)
    assert.are.same({3, 4, 2, 5}, shape(x:movedim(1, 3)))
    assert.are.same({5, 2, 4, 3}, shape(x:movedim({-1, 2}, {1, 4})))
    assert.are.same({4, 3, 2, 5}, shape(lunet.swapaxes(x, 1, 3)))
    assert.are.same({4, 3, 2, 5}, shape(x:swapdims(3, 1)))
    local m = f64(mat(2, 3))
    local v = m:movedim(1, 2)
    v[1][2] = 9
    assert.are.equal(9, m[2][1])
    assert.are.equal("movedim: 2 source dims but 1 destinations", errmsg(function() x:movedim({1, 2}, 3) end))
    assert.matches("movedim: dimension 1 repeats", errmsg(function() x:movedim({1, 1}, {2, 3}) end), 1, true)
  end)
  it("broadcast_to is expand", function()
    assert.are.same({{1, 2}, {1, 2}}, vals(i64{1, 2}:broadcast_to(2, 2)))
    assert.matches("cannot expand shape [3] to [2, 2]", errmsg(function() i64{1, 2, 3}:broadcast_to{2, 2} end), 1, true)
  end)
  it("meshgrid with ij and xy indexing", function()
    local a, b = f64{1, 2, 3}, f64{4, 5}
    local g = lunet.meshgrid(a, b)
    near(vals(g[1]), {{1, 1}, {2, 2}, {3, 3}})
    near(vals(g[2]), {{4, 5}, {4, 5}, {4, 5}})
    local x = lunet.meshgrid({a, b}, {indexing = "xy"})
    near(vals(x[1]), {{1, 2, 3}, {1, 2, 3}})
    near(vals(x[2]), {{4, 4, 4}, {5, 5, 5}})
    gradcheck(function(p, q) local s = lunet.meshgrid(p, q) return s[1] * s[2] end,
              {f64{1, 2, 3}:requires_grad_(), f64{4, 5}:requires_grad_()})
    assert.matches('indexing must be "ij" or "xy"', errmsg(function() lunet.meshgrid(a, {indexing = "yx"}) end), 1, true)
    assert.matches("meshgrid: tensor 1 must be 0-d or 1-D", errmsg(function() lunet.meshgrid(f64(mat(2, 2))) end), 1, true)
  end)
end)

describe("pad", function()
  local m = mat(2, 3)
  -- the padded table by a source-index rule for out-of-range columns and rows
  local function padded(l, r, t, b, src)
    return build(2 + t + b, 3 + l + r, function(i, j)
      local si, sj = src(i - t, 2), src(j - l, 3)
      if si == nil or sj == nil then return 7 end
      return m[si][sj]
    end)
  end
  local modes = {
    constant = function(k, n) if k >= 1 and k <= n then return k end end,
    reflect = function(k, n) if k < 1 then return 2 - k elseif k > n then return 2 * n - k end return k end,
    replicate = function(k, n) return math.max(1, math.min(n, k)) end,
    circular = function(k, n) return (k - 1) % n + 1 end,
  }
  it("matches PyTorch's order (last dim first) in every mode", function()
    for mode, src in pairs(modes) do
      near(vals(lunet.pad(f64(m), {2, 1, 1, 0}, {mode = mode, value = 7})), padded(2, 1, 1, 0, src))
      near(vals(f64(m):pad({1, 2}, mode, 7)), padded(1, 2, 0, 0, src))
    end
    assert.are.same({{2, 3}}, vals(i64{{1, 2, 3}}:pad{-1, 0}))   -- negative crops
    assert.are.same({{0, 1, 2, 3, 0}}, vals(lunet.nn.functional.pad(i64{{1, 2, 3}}, {1, 1})))
  end)
  it("is differentiable in every mode", function()
    for mode in pairs(modes) do
      gradcheck(function(a) return a:pad({1, 1, 1, 1}, {mode = mode, value = 2}) end, {f64(mat(2, 3)):requires_grad_()})
    end
  end)
  it("rejects bad pads and modes", function()
    local x = f64(m)
    assert.matches("pad: 3 padding amounts for a tensor of shape [2, 3]", errmsg(function() x:pad{1, 1, 1} end), 1, true)
    assert.matches("reflect padding 3, 0 needs amounts smaller than dimension 2's size 3",
                   errmsg(function() x:pad({3, 0}, "reflect") end), 1, true)
    assert.matches("leaves a negative size", errmsg(function() x:pad{-2, -2} end), 1, true)
    assert.matches('pad: mode must be "constant"', errmsg(function() x:pad({1, 1}, {mode = "wrap"}) end), 1, true)
  end)
end)
