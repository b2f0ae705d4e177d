-- linalg_spec.lua: issue 13's linear algebra against known answers and naive loops: bmm,
-- baddbmm, mv, addmv, outer, cross, einsum (a naive evaluator of any equation below), and
-- lunet.linalg (inv, det, solve, cholesky, norms); the errors each raises on bad input.
local lunet = require "lunet"
local h = dofile("tests/lua/helpers.lua")
local f64 = h.f64

local function randn(...) return lunet.randn({...}, {dtype = "float64"}) end

-- the error of fn(...) with its position: it must be this file's line, not a Lunet file's
local function err_here(fn, ...)
  local args = table.pack(...)
  local ok, e = pcall(function() local r = fn(table.unpack(args, 1, args.n)); return r end)  -- (no tail call)
  assert(not ok, "expected an error")
  return tostring(e)
end

-- einsum by its definition: every assignment of the labels, a product of the operands'
-- elements (size-1 dims broadcast), summed into the output's element. No "..." here.
local function naive_einsum(eq, ...)
  local ops = {...}
  local lhs, rhs = eq:match("^([^-]*)%->(.*)$")
  lhs = lhs or eq
  local terms = {}
  for t in (lhs .. ","):gmatch("([^,]*),") do terms[#terms + 1] = t end
  local count, size, labels = {}, {}, {}
  for i, t in ipairs(terms) do
    local sh = ops[i]:shape()
    for p = 1, #t do
      local c = t:sub(p, p)
      if not count[c] then labels[#labels + 1] = c end
      count[c] = (count[c] or 0) + 1
      size[c] = math.max(size[c] or 1, sh[p])
    end
  end
  if not rhs then
    local once = {}
    for _, c in ipairs(labels) do if count[c] == 1 then once[#once + 1] = c end end
    table.sort(once)
    rhs = table.concat(once)
  end
  local vals = {}
  for i = 1, #ops do vals[i] = ops[i]:reshape(-1):totable() end
  local out_shape, outn = {}, 1
  for p = 1, #rhs do out_shape[p] = size[rhs:sub(p, p)]; outn = outn * out_shape[p] end
  local out = {}
  for i = 1, outn do out[i] = 0 end
  local at = {}
  local function flat(i, t)                     -- element of operand i at the labels' values
    local sh, idx = ops[i]:shape(), 0
    for p = 1, #t do idx = idx * sh[p] + math.min(at[t:sub(p, p)], sh[p]) - 1 end
    return vals[i][idx + 1]
  end
  local function walk(n)
    if n > #labels then
      local prod = 1
      for i, t in ipairs(terms) do prod = prod * flat(i, t) end
      local o = 0
      for p = 1, #rhs do o = o * out_shape[p] + at[rhs:sub(p, p)] - 1 end
      out[o + 1] = out[o + 1] + prod
      return
    end
    for v = 1, size[labels[n]] do at[labels[n]] = v; walk(n + 1) end
  end
  walk(1)
  return out, out_shape
end

describe("products", function()
  it("bmm, mv, outer are the products of their definitions", function()
    local a, b = f64{{{1, 2}, {3, 4}}, {{0, 1}, {1, 0}}}, f64{{{5}, {6}}, {{7}, {8}}}
    h.near({{{17}, {39}}, {{8}, {7}}}, lunet.bmm(a, b):totable())
    h.near({{{17}, {39}}, {{8}, {7}}}, a:bmm(b):totable())
    h.near({5, 11}, lunet.mv(f64{{1, 2}, {3, 4}}, f64{1, 2}):totable())
    h.near({{3, 4, 5}, {6, 8, 10}}, f64{1, 2}:outer(f64{3, 4, 5}):totable())
    assert.are.equal("float32", lunet.bmm(lunet.ones(2, 2, 3), lunet.ones(2, 3, 1)):dtype())
  end)

  it("bmm of many small products (split over threads) gives each product's bits", function()
    local a, b = randn(64, 8, 16), randn(64, 16, 8)
    local before = lunet.get_num_threads()
    lunet.set_num_threads(2)
    local y = lunet.bmm(a, b)
    lunet.set_num_threads(before)
    for i = 1, 64, 9 do assert.are.same(lunet.matmul(a[i], b[i]):totable(), y[i]:totable()) end
  end)

  it("baddbmm and addmv scale the input and the product", function()
    local m, v = f64{{1, 2}, {3, 4}}, f64{1, 1}
    h.near({3 * 3 + 2, 3 * 7 + 2}, lunet.addmv(f64{1, 1}, m, v, {beta = 2, alpha = 3}):totable())
    h.near({3, 7}, lunet.addmv(f64{0 / 0, 0 / 0}, m, v, {beta = 0}):totable())   -- beta 0 ignores NaN
    local a, b, c = randn(3, 2, 4), randn(3, 4, 5), randn(1, 5)
    local want = (c * 0.5 + lunet.bmm(a, b) * -2):totable()
    h.near(want, lunet.baddbmm(c, a, b, {beta = 0.5, alpha = -2}):totable(), 1e-12)
    h.near(want, c:baddbmm(a, b, {beta = 0.5, alpha = -2}):totable(), 1e-12)
  end)

  it("cross: the right-hand rule, along the first dim of size 3 or a given dim, broadcast", function()
    h.near({0, 0, 1}, lunet.cross(f64{1, 0, 0}, f64{0, 1, 0}):totable())
    local a, b = randn(4, 3), randn(1, 3)
    local y, A, B = a:cross(b, 2):totable(), a:totable(), b:totable()[1]
    for i = 1, 4 do
      local x = A[i]
      h.near({x[2] * B[3] - x[3] * B[2], x[3] * B[1] - x[1] * B[3], x[1] * B[2] - x[2] * B[1]}, y[i], 1e-12)
    end
    h.near(lunet.cross(a:t(), b:t()):t():totable(), y, 1e-12)   -- dim 1: the first of size 3
  end)

  it("gradients flow through them", function()
    local a, b = h.leaf{{1, 2}, {3, 4}}, h.leaf{5, 6}
    lunet.mv(a, b):sum():backward()
    h.near({{5, 6}, {5, 6}}, a.grad:totable())
    h.near({4, 6}, b.grad:totable())
  end)

  it("refuse bad shapes and dtypes naming both shapes, at the caller's line", function()
    local e = err_here(lunet.bmm, lunet.zeros(2, 3, 4), lunet.zeros(2, 5, 4))
    assert.is_truthy(e:find("^.*linalg_spec%.lua:%d+: bmm: expected %[B, n, m%] and %[B, m, p%], got %[2, 3, 4%] and %[2, 5, 4%]"))
    assert.is_truthy(h.errmsg(lunet.mv, lunet.zeros(2, 3), lunet.zeros(2)):find("[2, 3] and [2]", 1, true))
    assert.is_truthy(h.errmsg(lunet.outer, lunet.zeros(2, 3), lunet.zeros(2)):find("two 1-D tensors", 1, true))
    assert.is_truthy(h.errmsg(lunet.bmm, lunet.zeros(1, 2, 2), f64{{{1, 2}, {3, 4}}}):find("same dtype", 1, true))
    assert.is_truthy(h.errmsg(lunet.addmv, lunet.zeros(3), lunet.zeros(2, 2), lunet.zeros(2))
      :find("addmv: input of shape [3] does not broadcast to the product's [2]", 1, true))
    assert.is_truthy(h.errmsg(lunet.baddbmm, lunet.zeros(2), lunet.zeros(1, 2, 2), lunet.zeros(1, 2, 2), {beta = "x"})
      :find("option beta must be a number", 1, true))
    assert.is_truthy(h.errmsg(lunet.cross, lunet.zeros(2, 2), lunet.zeros(2, 2)):find("no dimension of size 3 in [2, 2] and [2, 2]", 1, true))
    assert.is_truthy(h.errmsg(lunet.cross, lunet.zeros(3, 2), lunet.zeros(3, 2), 2):find("dimension 2 must have size 3", 1, true))
  end)
end)

describe("einsum", function()
  local cases = {
    {"ij,jk->ik", {3, 4}, {4, 2}}, {"ij,jk", {3, 4}, {4, 2}}, {"ij,kj->ik", {3, 4}, {2, 4}},
    {"bhqd,bhkd->bhqk", {2, 3, 4, 5}, {2, 3, 6, 5}}, {"ii", {4, 4}}, {"ii->i", {4, 4}}, {"ij->ji", {2, 3}},
    {"ij->", {2, 3}}, {"i,i->", {5}, {5}}, {"i,j->ij", {3}, {2}}, {"bii,bi->b", {2, 3, 3}, {2, 3}},
    {"iij,kj->ik", {3, 3, 2}, {4, 2}}, {"ij,ij->ij", {3, 4}, {3, 4}}, {"ij,ij", {3, 4}, {3, 4}},
    {"ijk,ik->j", {2, 3, 4}, {2, 4}}, {"abc->cba", {2, 3, 4}}, {"ab,cd->abcd", {2, 3}, {1, 2}},
    {"ij,kj->", {3, 4}, {1, 4}}, {"bij,bjk->bik", {1, 2, 3}, {4, 3, 2}}, {"Ab,bA->A", {2, 3}, {3, 2}},
    {"i j , j k -> i k", {2, 3}, {3, 2}},
  }
  for _, c in ipairs(cases) do
    it("matches the naive sum for " .. c[1], function()
      local ops = {randn(table.unpack(c[2]))}
      if c[3] then ops[2] = randn(table.unpack(c[3])) end
      local y = lunet.einsum(c[1], table.unpack(ops))
      local want, shape = naive_einsum(c[1]:gsub(" ", ""), table.unpack(ops))
      assert.are.same(shape, y:shape())
      h.near(want, y:reshape(-1):totable(), 1e-12)
      h.near(want, lunet.einsum(c[1], ops):reshape(-1):totable(), 1e-12)   -- the list form
    end)
  end

  it("broadcasts ... as matmul does, implicit output first", function()
    local a, b = randn(2, 3, 4), randn(4, 5)
    h.near(lunet.matmul(a, b):totable(), lunet.einsum("...ij,...jk->...ik", a, b):totable(), 1e-12)
    h.near(lunet.matmul(a, b):totable(), lunet.einsum("...ij,jk", a, b):totable(), 1e-12)
    h.near(a:sum(3):totable(), lunet.einsum("...j->...", a):totable(), 1e-12)
  end)

  it("has the gradient of the product it lowers to, float32 too", function()
    local q, k = randn(2, 2, 3, 4):requires_grad_(true), randn(2, 2, 5, 4):requires_grad_(true)
    local w = randn(2, 2, 3, 5)
    local y = lunet.einsum("bhqd,bhkd->bhqk", q, k)
    local l1 = (y * w):sum()
    l1:backward()
    local q2, k2 = q:detach():requires_grad_(true), k:detach():requires_grad_(true)
    local y2 = q2:matmul(k2:transpose(3, 4))
    h.near(y2:totable(), y:totable(), 1e-12)
    local l2 = (y2 * w):sum()
    l2:backward()
    h.near(q2.grad:totable(), q.grad:totable(), 1e-12)
    h.near(k2.grad:totable(), k.grad:totable(), 1e-12)
    local m = lunet.tensor({{1, 2}, {3, 4}}, {requires_grad = true})
    lunet.einsum("ii", m):backward()
    h.near({{1, 0}, {0, 1}}, m.grad:totable())
  end)

  it("keeps parsed equations and still works past its cache's size", function()
    local a = randn(2, 3)
    local want = a:t():totable()
    for _ = 1, 3 do h.near(want, lunet.einsum("ij->ji", a):totable()) end
    local letters = "abcdefghijklmnopqrstuvwxyz"
    for i = 1, 80 do       -- 80 distinct equations: the cache starts over past 64
      local x, y = letters:sub(i % 26 + 1, i % 26 + 1), letters:sub((i + 7) % 26 + 1, (i + 7) % 26 + 1)
      local eq = x .. y .. string.rep(" ", i // 26) .. "->" .. y .. x
      h.near(want, lunet.einsum(eq, a):totable())
    end
  end)

  it("refuses bad equations and operands, saying what is wrong, at the caller's line", function()
    local a = lunet.zeros(2, 3)
    local e = err_here(lunet.einsum, "ij,jk", a, lunet.zeros(4, 5))
    assert.is_truthy(e:find("linalg_spec%.lua:%d+: einsum: \"ij,jk\": operands of shapes %[2, 3%] and %[4, 5%] disagree"))
    assert.is_truthy(h.errmsg(lunet.einsum, "i1", a):find("invalid character '1' at position 2", 1, true))
    assert.is_truthy(h.errmsg(lunet.einsum, "ij,jk", a):find("the equation has 2 operands, got 1 tensor", 1, true))
    assert.is_truthy(h.errmsg(lunet.einsum, "ijk", a):find("operand 1 has 3 labels for its dimensions of shape [2, 3]", 1, true))
    assert.is_truthy(h.errmsg(lunet.einsum, "ij->k", a):find("output label 'k' is in no operand", 1, true))
    assert.is_truthy(h.errmsg(lunet.einsum, "ij->ii", a):find("output label 'i' appears twice", 1, true))
    assert.is_truthy(h.errmsg(lunet.einsum, "i.j", a):find("not part of \"...\"", 1, true))
    assert.is_truthy(h.errmsg(lunet.einsum, "i,j,k", a, a):find("more than two operands", 1, true))
    assert.is_truthy(h.errmsg(lunet.einsum, "ij-ji", a):find("is not part of \"->\"", 1, true))
    assert.is_truthy(h.errmsg(lunet.einsum, "ii", a):find("repeated label of operand 1 spans dims of sizes 2 and 3", 1, true))
    assert.is_truthy(h.errmsg(lunet.einsum, "ij,ij", a, f64{{1, 2, 3}, {4, 5, 6}}):find("dtypes float32 and float64", 1, true))
    assert.is_truthy(h.errmsg(lunet.einsum, "ij", {a, a, a}):find("one or two tensors", 1, true))
    assert.is_truthy(h.errmsg(lunet.einsum, "ij", {a, 3}):find("operand 2 is a number", 1, true))
    assert.is_truthy(h.errmsg(lunet.einsum, "abcdefghi", a):find("more than 8 labels", 1, true))
  end)
end)

describe("lunet.linalg", function()
  local L = lunet.linalg

  it("inv, det, solve and cholesky give known answers, float32 and float64", function()
    for _, dt in ipairs{"float64", "float32"} do
      local tol = dt == "float64" and 1e-12 or 1e-6
      local A = lunet.tensor({{4, 7}, {2, 6}}, {dtype = dt})
      h.near({{0.6, -0.7}, {-0.2, 0.4}}, L.inv(A):totable(), tol)
      assert.are.equal(dt, L.inv(A):dtype())
      h.near(10, L.det(A):item(), tol * 10)
      h.near({-0.1, 0.2}, L.solve(A, lunet.tensor({1, 1}, {dtype = dt})):totable(), tol)
      h.near({{2, 0}, {1, math.sqrt(2)}}, L.cholesky(lunet.tensor({{4, 2}, {2, 3}}, {dtype = dt})):totable(), tol)
    end
    h.near(-2, L.det(f64{{0, 1}, {2, 0}}):item())     -- a row swap flips the sign
    h.near(-2, f64{{0, 1}, {2, 0}}:det():item())
    h.near({{0.6, -0.7}, {-0.2, 0.4}}, lunet.inverse(f64{{4, 7}, {2, 6}}):totable(), 1e-12)
    h.near({{2, 0}, {1, math.sqrt(2)}}, f64{{4, 2}, {2, 3}}:cholesky():totable(), 1e-12)
    assert.are.equal(0, L.det(f64{{1, 2}, {2, 4}}):item())
  end)

  it("works on batches and agrees with matmul", function()
    local A = randn(3, 4, 4) + lunet.eye(4, {dtype = "float64"}) * 4
    local I = L.inv(A)
    h.near(lunet.eye(4, {dtype = "float64"}):expand(3, 4, 4):totable(), lunet.matmul(A, I):totable(), 1e-12)
    local B = randn(3, 4, 2)
    h.near(B:totable(), lunet.matmul(A, L.solve(A, B)):totable(), 1e-12)
    local S = lunet.matmul(A, A:transpose(2, 3))
    local C = L.cholesky(S)
    h.near(S:totable(), lunet.matmul(C, C:transpose(2, 3)):totable(), 1e-10)
    local d = L.det(A):totable()
    for b = 1, 3 do h.near(d[b], L.det(A[b]):item(), 1e-12) end
  end)

  it("has PyTorch's gradients (det: det · A^-T)", function()
    local A = h.leaf{{4, 7}, {2, 6}}
    L.det(A):backward()
    h.near({{6, -2}, {-7, 4}}, A.grad:totable(), 1e-12)
    local B = h.leaf{{4, 7}, {2, 6}}
    L.inv(B):sum():backward()        -- -(A^-T 1 A^-T)
    local Ti = L.inv(f64{{4, 7}, {2, 6}}):t()
    h.near((-lunet.matmul(lunet.matmul(Ti, lunet.ones(2, 2, {dtype = "float64"})), Ti)):totable(), B.grad:totable(), 1e-12)
  end)

  it("norms as torch.linalg", function()
    local x = f64{{3, -4}, {0, 12}}
    h.near(13, L.norm(x):item(), 1e-12)
    h.near(13, L.norm(x, "fro"):item(), 1e-12)
    h.near(16, L.norm(x, 1):item())                 -- the largest column sum
    h.near(12, L.norm(x, math.huge):item())         -- the largest row sum
    h.near(3, L.norm(x, -1):item())              -- the smallest column sum
    h.near({5, 12}, L.norm(x, 2, 2):totable(), 1e-12)
    h.near({{7}, {12}}, L.vector_norm(x, 1, 2, true):totable())
    h.near(12, L.vector_norm(x, math.huge):item())
    h.near(0, L.vector_norm(x, -math.huge):item())
    h.near(3, L.vector_norm(x, 0):item())
    h.near((27 + 64 + 1728) ^ (1 / 3), L.vector_norm(x, 3):item(), 1e-12)
    h.near({16}, L.matrix_norm(x:unsqueeze(1), "1"):totable())
    h.near(13, L.vector_norm(x, 2, {1, 2}):item(), 1e-12)
    -- singular values: of diag(3, -2) and of a rank-1 matrix (one nonzero value, |u||v|)
    h.near({3, 2}, L.svdvals(f64{{3, 0}, {0, -2}}):totable(), 1e-12)
    h.near({5, 0}, L.svdvals(f64{{3, 4}, {6, 8}} / math.sqrt(5)):totable(), 1e-12)
    h.near(3, L.norm(f64{{3, 0}, {0, -2}}, 2):item(), 1e-12)
    h.near(2, L.matrix_norm(f64{{3, 0}, {0, -2}}, "-2"):item(), 1e-12)
    h.near(5, L.norm(f64{{3, 0}, {0, -2}}, "nuc"):item(), 1e-12)
    h.near({{{5}}}, L.matrix_norm(f64{{3, 0}, {0, -2}}:unsqueeze(1), "nuc", {2, 3}, true):totable(), 1e-12)
  end)

  it("refuses singular, non-positive-definite and misshapen input, saying which", function()
    local e = err_here(L.inv, f64{{1, 2}, {2, 4}})
    assert.is_truthy(e:find("inv: the matrix is singular (pivot 2 is zero)", 1, true))
    assert.is_truthy(h.errmsg(L.inv, lunet.zeros(2, 2, 2)):find("matrix 1 of the batch is singular", 1, true))
    assert.is_truthy(h.errmsg(L.solve, f64{{1, 2}, {2, 4}}, f64{1, 1}):find("solve: the matrix is singular", 1, true))
    assert.is_truthy(h.errmsg(L.cholesky, f64{{1, 2}, {2, 1}}):find("not positive-definite (the leading minor of order 2", 1, true))
    assert.is_truthy(h.errmsg(L.inv, lunet.zeros(2, 3)):find("inv: expected square matrices [..., n, n], got [2, 3]", 1, true))
    assert.is_truthy(h.errmsg(L.det, lunet.zeros(3)):find("det: expected square matrices", 1, true))
    assert.is_truthy(h.errmsg(L.cholesky, lunet.zeros(2, 2, {dtype = "int64"})):find("floating dtype", 1, true))
    assert.is_truthy(h.errmsg(L.solve, lunet.zeros(2, 2), lunet.zeros(3, 1))
      :find("solve: expected A [..., n, n] and B [..., n, k] (or [n] for a 2-D A) with the same batch dims, got [2, 2] and [3, 1]", 1, true))
    assert.is_truthy(h.errmsg(L.solve, lunet.zeros(2, 2), f64{1, 2}):find("share a dtype", 1, true))
    assert.is_truthy(h.errmsg(L.norm, lunet.zeros(2, 2), "x"):find("ord x is not a matrix norm", 1, true))
    assert.is_truthy(h.errmsg(L.matrix_norm, lunet.zeros(2, 2), "x"):find("ord \"x\" is not one of", 1, true))
    assert.is_truthy(h.errmsg(L.svdvals, lunet.zeros(3)):find("svdvals: expected matrices [..., m, n], got [3]", 1, true))
    assert.is_truthy(h.errmsg(L.norm, lunet.zeros(2, 2, 2), 1):find("needs a 1-D or 2-D tensor", 1, true))
    assert.is_truthy(h.errmsg(L.norm, lunet.zeros(2, 2), 3):find("ord 3 is not a matrix norm", 1, true))
    assert.is_truthy(h.errmsg(L.vector_norm, lunet.zeros(2, 2), 2, {1, 1}):find("dim 1 is listed twice", 1, true))
    assert.is_truthy(h.errmsg(L.matrix_norm, lunet.zeros(2), "fro"):find("at least 2 dimensions, got [2]", 1, true))
    local e2 = err_here(L.norm, lunet.zeros(2), {})
    assert.is_truthy(e2:find("^.*linalg_spec%.lua:%d+: linalg.norm: ord must be"))
    local A = h.leaf{{1, 2}, {2, 4}}
    assert.is_truthy(h.errmsg(function() L.det(A):backward() end):find("det (backward): the matrix is singular", 1, true))
  end)
end)
