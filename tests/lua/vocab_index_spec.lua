-- vocab_index_spec.lua: gather/scatter, index_add/copy/fill, take and masks (issue 13) against
-- naive loops written here, their gradients, in-place forms, and the error of each bad input.
local lunet = require "lunet"

local h = dofile("tests/lua/helpers.lua")
local vals, errmsg, f64, i64 = h.vals, h.errmsg, h.f64, h.i64

-- a deterministic float64 matrix r x c with distinct values
local function mat(r, c)
  local t = {}
  for i = 1, r do
    t[i] = {}
    for j = 1, c do t[i][j] = ((i * 7 + j * 13) % 17) - 8 + i / 10 end
  end
  return t
end

describe("gather", function()
  it("matches the loop y[i][j] = x[idx[i][j]][j] (dim 1) and x[i][idx[i][j]] (dim 2)", function()
    local x = mat(3, 4)
    local idx1 = {{1, 3, 2, 3}, {3, 3, 1, 2}}
    local idx2 = {{4, 4}, {1, 2}, {3, 1}}
    local want1, want2 = {}, {}
    for i = 1, 2 do want1[i] = {} for j = 1, 4 do want1[i][j] = x[idx1[i][j]][j] end end
    for i = 1, 3 do want2[i] = {} for j = 1, 2 do want2[i][j] = x[i][idx2[i][j]] end end
    assert.same(want1, vals(f64(x):gather(1, i64(idx1))))
    assert.same(want2, vals(lunet.gather(f64(x), 2, i64(idx2))))
    assert.same(want2, vals(f64(x):gather(-1, i64(idx2))))
  end)
  it("works on a transposed view and on int64", function()
    local x = i64{{1, 2, 3}, {4, 5, 6}}
    assert.same({{4, 1}, {2, 5}}, vals(x:t():gather(2, i64{{2, 1}, {1, 2}})))
    assert.equal("int64", x:gather(1, i64{{1, 2, 1}}):dtype())
  end)
  it("sends the gradient back to the gathered positions (repeated ones add up)", function()
    local x = h.leaf{{1, 2}, {3, 4}}
    x:gather(2, i64{{1, 1}, {2, 1}}):sum():backward()
    assert.same({{2, 0}, {1, 1}}, vals(x.grad))
  end)
  it("refuses bad indices naming the index, the dim and its size", function()
    local x = f64{{1, 2}, {3, 4}}
    assert.equal("gather: index 3 out of range for dimension 2 of size 2", errmsg(x.gather, x, 2, i64{{3}}))
    assert.equal("gather: index 0 is invalid: indices are 1-based (1 is the first, -1 the last)",
                 errmsg(x.gather, x, 1, i64{{0}}))
    assert.is_truthy(errmsg(x.gather, x, 1, f64{{1}}):match("must be an int64 tensor"))
    assert.is_truthy(errmsg(x.gather, x, 1, i64{1}):match("does not fit"))
    assert.is_truthy(errmsg(x.gather, x, 3, i64{{1}}):match("dimension 3 out of range"))
  end)
end)

describe("scatter", function()
  it("matches the loop y[idx[i][j]][j] = src[i][j], and its add/multiply forms", function()
    local x, src = mat(3, 4), mat(2, 5)
    local idx = {{1, 3, 2, 3}, {2, 2, 1, 1}}
    local want, wadd, wmul = mat(3, 4), mat(3, 4), mat(3, 4)
    for i = 1, 2 do
      for j = 1, 4 do
        local k = idx[i][j]
        want[k][j] = src[i][j]
        wadd[k][j] = wadd[k][j] + src[i][j]
        wmul[k][j] = wmul[k][j] * src[i][j]
      end
    end
    h.near(want, vals(f64(x):scatter(1, i64(idx), f64(src))))
    h.near(wadd, vals(f64(x):scatter_add(1, i64(idx), f64(src))))
    h.near(wadd, vals(f64(x):scatter(1, i64(idx), f64(src), {reduce = "add"})))
    h.near(wmul, vals(f64(x):scatter(1, i64(idx), f64(src), {reduce = "multiply"})))
  end)
  it("takes a number as the source, and works in place", function()
    local x = lunet.zeros(2, 3)
    assert.same({{0, 5, 0}, {5, 0, 0}}, vals(x:scatter(2, i64{{2}, {1}}, 5)))
    local y = lunet.zeros(2, 3)
    assert.equal(y, y:scatter_(2, i64{{2}, {1}}, 5))
    assert.same({{0, 5, 0}, {5, 0, 0}}, vals(y))
    y:scatter_add_(2, i64{{3, 3}}, lunet.ones(1, 2))
    assert.same({{0, 5, 2}, {5, 0, 0}}, vals(y))
  end)
  it("gives gradients to the tensor (not where overwritten) and to the source", function()
    local x, s = h.leaf{{1, 2}, {3, 4}}, h.leaf{{5, 6}}
    local w = f64{{1, 2}, {3, 4}}
    local y = x:scatter(1, i64{{2, 1}}, s) * w
    y:sum():backward()
    assert.same({{1, 0}, {0, 4}}, vals(x.grad))
    assert.same({{3, 2}}, vals(s.grad))
  end)
  it("refuses bad input", function()
    local x = f64{{1, 2}, {3, 4}}
    assert.equal("scatter: index 9 out of range for dimension 1 of size 2",
                 errmsg(x.scatter, x, 1, i64{{9}}, f64{{1}}))
    assert.is_truthy(errmsg(x.scatter, x, 1, i64{{1, 1}}, f64{{1}}):match("does not fit the source"))
    assert.is_truthy(errmsg(x.scatter, x, 1, i64{{1}}, lunet.ones(1, 1)):match("source dtype float32 differs"))
    assert.is_truthy(errmsg(x.scatter, x, 1, i64{{1}}, f64{{1}}, {reduce = "max"}):match("reduce must be"))
    local l = h.leaf{{1, 2}}
    assert.is_truthy(errmsg(l.scatter_, l, 1, i64{{1}}, f64{{1}}):match("requires grad"))
    assert.is_truthy(errmsg(l.scatter, l, 1, i64{{1}}, f64{{1}}, {reduce = "multiply"}):match("no gradient"))
  end)
end)

describe("index_add, index_copy, index_fill", function()
  it("match their loops along dim 1 and 2", function()
    local x, src = mat(3, 4), mat(3, 2)
    local want = mat(3, 4)
    for i = 1, 3 do
      want[i][4] = want[i][4] + 2 * src[i][1]
      want[i][1] = want[i][1] + 2 * src[i][2]
    end
    h.near(want, vals(f64(x):index_add(2, {4, 1}, f64(src), {alpha = 2})))
    local c = mat(3, 4)
    for i = 1, 3 do c[i][4], c[i][1] = src[i][1], src[i][2] end
    h.near(c, vals(f64(x):index_copy(2, i64{4, 1}, f64(src))))
    local f = mat(3, 4)
    for j = 1, 4 do f[2][j] = -1 end
    h.near(f, vals(f64(x):index_fill(1, {2}, -1)))
    h.near(f, vals(f64(x):index_fill_(1, {-2}, -1)))
  end)
  it("add up repeated indices and flow gradients", function()
    assert.same({3, 0, 0}, vals(lunet.zeros(3):index_add(1, {1, 1, 1}, lunet.ones(3))))
    local x, s = h.leaf{1, 2, 3}, h.leaf{10, 20}
    x:index_add(1, {3, 1}, s, {alpha = 3}):sum():backward()
    assert.same({1, 1, 1}, vals(x.grad))
    assert.same({3, 3}, vals(s.grad))
    local y = lunet.zeros(2, 2)
    y:index_add_(1, {2}, lunet.ones(1, 2))
    y:index_copy_(2, {1}, f64{{7}, {8}}:float())
    assert.same({{7, 0}, {8, 1}}, vals(y))
  end)
  it("refuse a source of the wrong shape and bad indices", function()
    local x = lunet.zeros(2, 3)
    assert.is_truthy(errmsg(x.index_add, x, 2, {1}, lunet.ones(2, 2)):match("does not match the tensor's"))
    assert.equal("index_copy: index 4 out of range for dimension 2 of size 3",
                 errmsg(x.index_copy, x, 2, {4}, lunet.ones(2, 1)))
    assert.is_truthy(errmsg(x.index_fill, x, 2, {1}, "a"):match("value must be a number"))
  end)
end)

describe("take", function()
  it("indexes the flattened tensor, in the index's shape", function()
    local x = f64{{1, 2, 3}, {4, 5, 6}}
    assert.same({{1, 6}, {5, 3}}, vals(x:take(i64{{1, 6}, {-2, 3}})))
    assert.equal("take: index 7 out of range for dimension 1 of size 6", errmsg(x.take, x, {7}))
  end)
end)

describe("masks", function()
  it("masked_fill broadcasts the mask, keeps the dtype and takes a number or a 0-d tensor", function()
    local x = lunet.tensor{{1, 2}, {3, 4}}
    assert.same({{1, -1}, {3, -1}}, vals(x:masked_fill(i64{0, 1}, -1)))
    assert.same({{-1, -1}, {3, 4}}, vals(x:masked_fill(f64{{1}, {0}}, f64(-1))))
    assert.equal("float32", x:masked_fill(i64{0, 1}, f64(-1)):dtype())
    assert.same({{1, 2}, {-math.huge, -math.huge}}, vals(x:masked_fill(x:gt(2), -math.huge)))
  end)
  it("masked_fill's gradient goes to the unmasked positions and to a 0-d value", function()
    local x, v = h.leaf{{1, 2}, {3, 4}}, h.leaf(0)
    x:masked_fill(i64{{1, 0}, {1, 1}}, v):sum():backward()
    assert.same({{0, 1}, {0, 0}}, vals(x.grad))
    assert.equal(3, v.grad:item())
  end)
  it("masked_fill_ changes the tensor in place", function()
    local x = lunet.ones(2, 2)
    assert.equal(x, x:masked_fill_(i64{1, 0}, 0))
    assert.same({{0, 1}, {0, 1}}, vals(x))
    assert.is_truthy(errmsg(x.masked_fill_, x, lunet.ones(3, 2, 2), 0):match("differs from the tensor's"))
  end)
  it("masked_select picks the true positions in row-major order; its gradient puts them back", function()
    local x = h.leaf{{1, 2, 3}, {4, 5, 6}}
    local m = i64{{1, 0, 1}, {0, 1, 1}}
    local want = {}
    for i = 1, 2 do for j = 1, 3 do if vals(m)[i][j] ~= 0 then want[#want + 1] = vals(x)[i][j] end end end
    local y = x:masked_select(m)
    assert.same(want, vals(y))
    y:mul(f64{1, 2, 3, 4}):sum():backward()
    assert.same({{1, 0, 2}, {0, 3, 4}}, vals(x.grad))
    assert.same({}, vals(x:masked_select(lunet.zeros(2, 3))))
  end)
  it("masked_scatter fills the true positions from the source in order", function()
    local x, s = h.leaf{{1, 2}, {3, 4}}, h.leaf{10, 20, 30}
    local y = x:masked_scatter(i64{{0, 1}, {1, 0}}, s)
    assert.same({{1, 10}, {20, 4}}, vals(y))
    y:mul(f64{{1, 2}, {3, 4}}):sum():backward()
    assert.same({{1, 0}, {0, 4}}, vals(x.grad))
    assert.same({2, 3, 0}, vals(s.grad))
    local z = lunet.zeros(3)
    z:masked_scatter_(i64{1, 0, 1}, lunet.tensor{7, 8})
    assert.same({7, 0, 8}, vals(z))
  end)
  it("refuse shapes that do not broadcast and a source that is too short", function()
    local x = lunet.ones(2, 2)
    assert.is_truthy(errmsg(x.masked_select, x, lunet.ones(3)):match("%[2, 2%].*%[3%]"))
    assert.is_truthy(errmsg(x.masked_scatter, x, lunet.ones(2, 2), lunet.ones(3)):match("4 true elements but the source only 3"))
    assert.is_truthy(errmsg(x.masked_fill, x, lunet.ones(2, 2), lunet.ones(2)):match("0%-d tensor"))
  end)
end)
