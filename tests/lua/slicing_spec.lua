-- slicing_spec.lua: Torch7's indexing (issue 13): t[{2, {1, 3}, {}}] as a view and as an
-- assignment target, t[mask] (select, fill, copy), t[idx] (rows), gradients through slices,
-- the in-place rules, and the error of each bad key. t[i] keeps its old behaviour.
local lunet = require "lunet"

local h = dofile("tests/lua/helpers.lua")
local vals, errmsg, f64, i64, near = h.vals, h.errmsg, h.f64, h.i64, h.near

-- a 3 x 4 int64 matrix 1..12 and the same as a Lua table
local function m34() return lunet.arange(1, 13):view(3, 4) end
local M = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}}

-- the naive slice of M: rows r1..r2, cols c1..c2
local function sub(r1, r2, c1, c2)
  local t = {}
  for i = r1, r2 do
    local row = {}
    for j = c1, c2 do row[#row + 1] = M[i][j] end
    t[#t + 1] = row
  end
  return t
end

describe("t[{...}] reads", function()
  it("an integer selects (the dim goes), {a, b} keeps a..b, {} keeps all", function()
    local t = m34()
    assert.are.same({5, 6, 7}, vals(t[{2, {1, 3}}]))
    assert.are.same(sub(1, 2, 1, 4), vals(t[{{1, 2}, {}}]))
    assert.are.same(sub(1, 3, 2, 3), vals(t[{{}, {2, 3}}]))
    assert.are.same({3, 7, 11}, vals(t[{{}, 3}]))
    assert.are.same(sub(2, 3, 1, 4), vals(t[{{2, 3}}]))          -- fewer entries: the rest whole
  end)
  it("{a} is {a, a} (the dim stays, size 1); negatives count from the end", function()
    local t = m34()
    assert.are.same({{6}}, vals(t[{{2}, {2}}]))
    assert.are.same(sub(2, 3, 3, 4), vals(t[{{-2, -1}, {-2, 4}}]))
    assert.are.same({1, 4}, t[{{-1}, {}}]:shape())
  end)
  it("every dim selected gives the number", function()
    local t = m34()
    assert.are.equal(7, t[{2, 3}])
    assert.are.equal(12, t[{-1, -1}])
    assert.are.equal(2.5, f64{{1, 2.5}}[{1, 2}])
  end)
  it("is a view of the same storage", function()
    local t = m34()
    local v = t[{{2, 3}, {2, 3}}]
    v[1][1] = 100
    assert.are.equal(100, t[2][2])
    assert.is_false(v:is_contiguous())
  end)
  it("t[i] keeps its behaviour", function()
    local t = m34()
    assert.are.same({5, 6, 7, 8}, vals(t[2]))
    assert.are.equal(8, t[2][-1])
  end)
end)

describe("t[{...}] = v", function()
  it("assigns a number or a broadcastable tensor through the view", function()
    local t = m34()
    t[{{1, 2}, {}}] = 0
    assert.are.same({{0, 0, 0, 0}, {0, 0, 0, 0}, {9, 10, 11, 12}}, vals(t))
    t[{{}, 2}] = i64{7, 8, 9}
    assert.are.same({{0, 7, 0, 0}, {0, 8, 0, 0}, {9, 9, 11, 12}}, vals(t))
    t[{3, {3, 4}}] = i64{{1, 2}}:view(2)
    assert.are.same({9, 9, 1, 2}, vals(t[3]))
    t[{1, 1}] = -5
    assert.are.equal(-5, t[1][1])
    assert.matches("bad argument #3", errmsg(function() t[{1}] = "x" end), 1, true)
  end)
  it("follows the in-place rules: refused on a leaf that requires grad, a version bump seen by backward", function()
    local x = f64{{1, 2}, {3, 4}}:requires_grad_()
    assert.matches("a tensor that requires grad (or a view of one) cannot be changed in place",
                   errmsg(function() x[{{}, 1}] = 0 end), 1, true)
    local y = x:exp()
    lunet.no_grad(function() y[{1, {}}] = 0 end)
    assert.matches("modified by an in%-place", errmsg(function() y:sum():backward() end))
  end)
end)

describe("gradients through slices", function()
  it("reach the sliced positions only", function()
    local x = f64{{1, 2, 3}, {4, 5, 6}}:requires_grad_()
    local y = x[{2, {2, 3}}] * f64{10, 20}
    y:sum():backward()
    near({{0, 0, 0}, {0, 10, 20}}, vals(x.grad))
    assert(lunet.testing.gradcheck(function(a) return a[{{-2}, {1, 2}}] * a[{{}, 3}]:sum() end,
                                   {f64{{1, 2, 3}, {4, 5, 6}}:requires_grad_()}))
  end)
end)

describe("t[mask] and t[idx]", function()
  it("a mask of t's shape selects (1-D), fills and copies", function()
    local t = m34()
    assert.are.same({10, 11, 12}, vals(t[t:gt(9)]))
    t[t:gt(10)] = -1
    assert.are.same({9, 10, -1, -1}, vals(t[3]))
    local x = f64{{1, 2}, {3, 4}}
    x[x:lt(3)] = f64{7, 8}
    near({{7, 8}, {3, 4}}, vals(x))
  end)
  it("passes the gradient of a masked select", function()
    local x = f64{1, -2, 3}:requires_grad_()
    x[x:gt(0)]:sum():backward()
    near({1, 0, 1}, vals(x.grad))
  end)
  it("an int64 index tensor of another shape selects rows (1-based)", function()
    assert.are.same({sub(3, 3, 1, 4)[1], sub(1, 1, 1, 4)[1]}, vals(m34()[i64{3, 1}]))
  end)
end)

describe("bad keys", function()
  local t = m34()
  it("index 0 says indices are 1-based", function()
    assert.are.equal("index: index 0 is invalid: indices are 1-based (1 is the first, -1 the last)",
                     errmsg(function() return t[{0}] end))
    assert.matches("index 0 in a range for dimension 2 is invalid: indices are 1-based",
                   errmsg(function() return t[{{}, {0, 2}}] end), 1, true)
  end)
  it("name the dim, the range and the size", function()
    assert.are.equal("index: index 5 out of range for dimension 2 of size 4", errmsg(function() return t[{1, 5}] end))
    assert.are.equal("index: range {2, 5} does not fit dimension 2 of size 4 (indices are 1..4 or -4..-1, "
                     .. "first <= last)", errmsg(function() return t[{{}, {2, 5}}] end))
    assert.matches("range {3, 2} does not fit dimension 1 of size 3", errmsg(function() return t[{{3, 2}}] end), 1, true)
    assert.matches("range {-5} does not fit dimension 1", errmsg(function() return t[{{-5}}] end), 1, true)
    assert.are.equal("index: 3 entries for a 2-d tensor of shape [3, 4]", errmsg(function() return t[{1, 1, 1}] end))
    assert.matches("entry 2 of the index table must be an integer or a range table, got string",
                   errmsg(function() return t[{1, "a"}] end), 1, true)
    assert.matches("range bound 1 for dimension 1 must be an integer", errmsg(function() return t[{{1.5}}] end), 1, true)
    assert.matches("tensor index must be", errmsg(function() return t[true] end), 1, true)
  end)
  it("a mask of another shape is refused", function()
    assert.matches("index: a mask must have the tensor's shape [3, 4], got [2, 2]",
                   errmsg(function() return t[lunet.ones(2, 2)] end), 1, true)
    assert.matches("assigning through an index tensor is not supported",
                   errmsg(function() t[i64{1}] = 0 end), 1, true)
  end)
  it("are raised at the caller's line", function()
    local ok, e = pcall(function() return t[{9}] end)
    assert.is_false(ok)
    assert.matches("slicing_spec.lua:%d+: index:", e)
  end)
end)
