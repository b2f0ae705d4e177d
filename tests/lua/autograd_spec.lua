-- autograd_spec.lua: gradients by hand through the Lua surface — d(sum(x*x)) = 2x,
-- broadcasting reduces gradients to the input's shape, accumulation across backward calls,
-- no_grad, detach, backward on a non-scalar, in-place rules and the error texts.
local lunet = require "lunet"

local h = dofile("tests/lua/helpers.lua")
local leaf, vals, near, errmsg = h.leaf, h.vals, h.near, h.errmsg

describe("autograd", function()
  it("d(sum(x*x))/dx = 2x", function()
    local x = leaf({1, -2, 3})
    assert.is_nil(x.grad)
    local loss = (x * x):sum()
    assert.equal("sum", loss:grad_fn())
    assert.is_false(loss:is_leaf())
    assert.is_true(x:is_leaf())
    loss:backward()
    near({2, -4, 6}, vals(x.grad))
  end)

  it("reduces broadcast gradients to the input's shape", function()
    local a = leaf({{1, 2, 3}, {4, 5, 6}})
    local b = leaf({10, 20, 30})
    local c = leaf(2)
    ;((a * b + c) * 1):sum():backward()
    near({{10, 20, 30}, {10, 20, 30}}, vals(a.grad))
    near({5, 7, 9}, vals(b.grad))
    near(6, c.grad:item())
  end)

  it("numbers on either side, division and powers", function()
    local x = leaf({1, 2, 4})
    ;((2 / x) + (x ^ 3) - (1 - x) * 5):sum():backward()
    -- d/dx: -2/x^2 + 3x^2 + 5
    near({-2 + 3 + 5, -0.5 + 12 + 5, -0.125 + 48 + 5}, vals(x.grad))
  end)

  it("matmul and mean", function()
    local w = leaf({{1, 2}, {3, 4}})
    local x = lunet.tensor({{1, 1}, {2, 0}}, {dtype = "float64"})
    x:matmul(w):mean():backward()
    -- d mean(x w)/dw = x^T 1 / 4
    near({{0.75, 0.75}, {0.25, 0.25}}, vals(w.grad))
  end)

  it("addmm is bias + x w with the gradients of the composite", function()
    local function inputs()
      return leaf({{1, 2, 0.5}, {-1, 3, 2}}), leaf({{1, 0}, {2, -1}, {0.5, 4}}), leaf({0.25, -2})
    end
    local x, w, b = inputs()
    local y = lunet.addmm(b, x, w)
    near({{5.5, -2}, {6.25, 3}}, vals(y))
    local gy = lunet.tensor({{1, -2}, {0.5, 3}}, {dtype = "float64"})
    ;(y * gy):sum():backward()
    local x2, w2, b2 = inputs()
    ;((x2:matmul(w2) + b2) * gy):sum():backward()
    near(vals(x2.grad), vals(x.grad))
    near(vals(w2.grad), vals(w.grad))
    near(vals(b2.grad), vals(b.grad))
    near({{5.5, -2}, {6.25, 3}}, vals(b:addmm(x, w)))
    near({{5.25, 0}, {6, 5}}, vals(lunet.addmm(nil, x, w)))
    -- float32, the layers' case: the bias gradient is the column sum of the output's
    local xf, wf = lunet.tensor({{1, 2}, {3, 4}, {5, 6}}), lunet.tensor({{1, 0, 2}, {0, 1, 1}})
    local bf = lunet.zeros(3):requires_grad_()
    local gf = lunet.tensor({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}})
    ;(lunet.addmm(bf, xf, wf) * gf):sum():backward()
    assert.same({12, 15, 18}, vals(bf.grad))
    assert.matches("addmm: bias of shape %[3%] does not broadcast to the product's %[2, 2%]",
                   errmsg(lunet.addmm, lunet.ones(3, {dtype = "float64"}), x, w))
  end)

  it("views carry gradients back to the base", function()
    local x = leaf({{1, 2}, {3, 4}})
    local y = x:t()[1] * lunet.tensor({10, 100}, {dtype = "float64"})
    y:sum():backward()
    near({{10, 0}, {100, 0}}, vals(x.grad))
  end)

  it("accumulates across backward calls until zeroed", function()
    local x = leaf({1, 2})
    ;(x * 3):sum():backward()
    ;(x * 3):sum():backward()
    near({6, 6}, vals(x.grad))
    x:zero_grad()
    near({0, 0}, vals(x.grad))
    x.grad = nil
    assert.is_nil(x.grad)
    ;(x * x):sum():backward()
    near({2, 4}, vals(x.grad))
  end)

  it("takes an explicit gradient for non-scalar outputs", function()
    local x = leaf({1, 2, 3})
    local y = x * 2
    assert.matches("^backward: ", errmsg(y.backward, y))
    y:backward(lunet.tensor({1, 10, 100}, {dtype = "float64"}))
    near({2, 20, 200}, vals(x.grad))
  end)

  it("a graph is freed by backward: a second backward is an error", function()
    local x = leaf({1, 2})
    local loss = (x * x):sum()
    loss:backward()
    assert.matches("^backward: ", errmsg(loss.backward, loss))
  end)

  it("no_grad records nothing and restores the mode", function()
    local x = leaf({1, 2})
    local y = lunet.no_grad(function() return x * 2 end)
    assert.is_false(y:requires_grad())
    assert.is_nil(y:grad_fn())
    assert.is_true(lunet.is_grad_enabled())
    local ok = pcall(lunet.no_grad, function() error("inside") end)
    assert.is_false(ok)
    assert.is_true(lunet.is_grad_enabled())
    lunet.no_grad(function() x:add_(1) end) -- in-place on a leaf is allowed without grad
    near({2, 3}, vals(x))
    assert.equal("bad argument #1 to 'no_grad' (function expected, got number)",
                 errmsg(function() return lunet.no_grad(1) end))
  end)

  it("detach shares storage and stops gradients", function()
    local x = leaf({1, 2})
    local d = x:detach()
    assert.is_false(d:requires_grad())
    lunet.no_grad(function() x[1] = 5 end)
    assert.equal(5, d[1])
    ;(x * d):sum():backward()
    near({5, 2}, vals(x.grad))
  end)

  it("set_requires_grad returns the tensor; ints cannot require grad", function()
    local t = lunet.ones(2, {dtype = "float64"})
    assert.equal(t, t:set_requires_grad(true))
    assert.is_true(t:requires_grad())
    t:set_requires_grad(false)
    assert.is_false(t:requires_grad())
    local i = lunet.ones(2, {dtype = "int64"})
    assert.matches("int64", errmsg(i.set_requires_grad, i, true))
  end)

  it("a leaf that requires grad cannot change in place while grad is on", function()
    local x = leaf({1, 2})
    assert.equal("fill_: a tensor that requires grad (or a view of one) cannot be changed in "
                 .. "place while grad mode is on (use lunet.no_grad)", errmsg(x.fill_, x, 0))
    assert.equal("set: a tensor that requires grad (or a view of one) cannot be changed in "
                 .. "place while grad mode is on (use lunet.no_grad)",
                 errmsg(function() x[1] = 0 end))
    -- a view of the leaf is refused too (its changes would bypass the graph)
    local m = lunet.ones(2, 2, {dtype = "float64", requires_grad = true})
    assert.matches("cannot be changed in place", errmsg(function() m[1] = 5 end))
    assert.matches("cannot be changed in place", errmsg(function() m[1]:fill_(5) end))
    lunet.no_grad(function() m[1] = 5 end)
    assert.equal(5, m[1][1])
    near({1, 2}, vals(x))
  end)

  it("max with a dim routes the gradient to the arg max", function()
    local x = leaf({{1, 5}, {7, 3}})
    local v = x:max(2)
    v:sum():backward()
    near({{0, 1}, {1, 0}}, vals(x.grad))
  end)

  it("a dropped graph of 200,000 nodes is freed (no recursion per node)", function()
    local a = leaf({1})
    local y = a
    for _ = 1, 200000 do y = y * 1 end
    y = nil                                    -- luacheck: ignore (dropped on purpose)
    collectgarbage(); collectgarbage()
    -- and backward over the same depth
    y = a
    for _ = 1, 200000 do y = -y end
    y:backward()
    near({1}, vals(a.grad))
  end)

  it("t.grad = t makes no reference cycle: memory stays flat", function()
    collectgarbage(); collectgarbage()
    local base = lunet.memory_stats().bytes_in_use
    for _ = 1, 100 do
      local t = lunet.zeros(65536)             -- 256 KiB each
      t.grad = t
      local a, b = lunet.zeros(65536), lunet.zeros(65536)
      a.grad = b; b.grad = a
    end
    collectgarbage(); collectgarbage()
    assert.equal(base, lunet.memory_stats().bytes_in_use)
  end)

  it("t.grad = g shares g's values and must match t's shape and dtype", function()
    local x = leaf({1, 2})
    local g = lunet.tensor({10, 20}, {dtype = "float64"})
    x.grad = g
    g[1] = 11                                   -- seen through x.grad
    near({11, 20}, vals(x.grad))
    ;(x * x):sum():backward()                   -- and backward's sum is seen through g
    near({13, 24}, vals(g))
    assert.equal("set_grad: assigned grad has shape [3], the tensor has shape [2]",
                 errmsg(function() x.grad = lunet.zeros(3, {dtype = "float64"}) end))
    assert.equal("set_grad: assigned grad has dtype float32, the tensor has dtype float64",
                 errmsg(function() x.grad = lunet.zeros(2) end))
    near({13, 24}, vals(x.grad))
  end)

  it("a backward that fails on a modified saved tensor leaves the grads as they were", function()
    local x, w = leaf({1, 2}), leaf({5, 6})
    local function loss() return (x * x):sum() + (w * 2):sum() end -- w's node runs first
    local l = loss()
    lunet.no_grad(function() x[1] = 7 end)
    assert.equal("backward: an input of mul was modified by an in-place operation after it "
                 .. "was used (version 1, expected 0); its gradient would be wrong",
                 errmsg(l.backward, l))
    assert.is_nil(w.grad)                       -- (it was 2 before: partial gradients)
    assert.is_nil(x.grad)
    lunet.no_grad(function() x[1] = 1 end)      -- fixed; the forward again
    loss():backward()
    near({2, 4}, vals(x.grad))                  -- a single clean backward's gradients
    near({2, 2}, vals(w.grad))
  end)
end)
