-- tensor_spec.lua: the Lua tensor — creation, inspection, 1-based indexing, views sharing
-- storage, broadcasting arithmetic, reductions, printing, lifetime and the exact error text
-- of bad input for each function of API.md's "Tensors".
local lunet = require "lunet"

local h = dofile("tests/lua/helpers.lua")
local vals, errmsg, f64 = h.vals, h.errmsg, h.f64

-- nested tables of numbers (or numbers) equal within tol, by default 1e-6
local function near(a, b, tol, path) return h.near(a, b, tol or 1e-6, path) end

describe("creation", function()
  it("takes shapes as varargs or a table, with trailing options", function()
    local a = lunet.zeros(2, 3)
    assert.same({2, 3}, a:shape())
    assert.equal("float32", a:dtype())
    assert.same({{0, 0, 0}, {0, 0, 0}}, vals(a))
    local b = lunet.ones({2, 2}, {dtype = "float64"})
    assert.equal("float64", b:dtype())
    assert.same({{1, 1}, {1, 1}}, vals(b))
    local c = lunet.ones(3, {dtype = "int64"})
    assert.same({1, 1, 1}, vals(c))
    assert.equal(math.type(c[1]), "integer")
    assert.same({}, lunet.zeros():shape())
    assert.same({2, 0}, lunet.empty(2, 0):shape())
  end)

  it("full, eye, arange, linspace", function()
    assert.same({{7, 7}}, vals(lunet.full({1, 2}, 7)))
    assert.same({7.5, 7.5, 7.5}, vals(lunet.full(3, 7.5)))
    assert.same({{1, 0, 0}, {0, 1, 0}}, vals(lunet.eye(2, 3)))
    assert.same({{1, 0}, {0, 1}}, vals(lunet.eye(2)))
    local r = lunet.arange(5)
    assert.equal("int64", r:dtype())
    assert.same({0, 1, 2, 3, 4}, vals(r))
    assert.same({2, 4, 6, 8}, vals(lunet.arange(2, 10, 2)))
    local f = lunet.arange(0, 1, 0.25)
    assert.equal("float32", f:dtype())
    assert.same({0, 0.25, 0.5, 0.75}, vals(f))
    assert.equal("float64", lunet.arange(0, 3, {dtype = "float64"}):dtype())
    near({0, 0.25, 0.5, 0.75, 1}, vals(lunet.linspace(0, 1, 5)))
  end)

  it("random creation is seeded and in range", function()
    lunet.manual_seed(7)
    local a = lunet.rand(100)
    lunet.manual_seed(7)
    local b = lunet.rand(100)
    assert.same(vals(a), vals(b))
    for _, v in ipairs(vals(a)) do assert(v >= 0 and v < 1) end
    local g1, g2 = lunet.Generator(3), lunet.Generator(3)
    assert.same(vals(lunet.randn(5, {generator = g1})), vals(lunet.randn(5, {generator = g2})))
    local n = lunet.randn(10000, {dtype = "float64"})
    assert(math.abs(n:mean():item()) < 0.05)
    assert(math.abs(n:std():item() - 1) < 0.05)
    local ri = lunet.randint(2, 5, {1000})
    assert.equal("int64", ri:dtype())
    assert.equal(2, ri:min():item())
    assert.equal(4, ri:max():item())
    local p = lunet.randperm(6)
    local seen = {}
    for _, v in ipairs(vals(p)) do seen[v] = true end
    for i = 1, 6 do assert(seen[i], "randperm misses " .. i) end
  end)

  it("_like functions keep shape and dtype", function()
    local t = lunet.ones(2, 3, {dtype = "float64"})
    local z = lunet.zeros_like(t)
    assert.same({2, 3}, z:shape())
    assert.equal("float64", z:dtype())
    assert.same({{1, 1, 1}, {1, 1, 1}}, vals(lunet.ones_like(z)))
    assert.equal("float32", lunet.zeros_like(t, {dtype = "float32"}):dtype())
  end)

  it("tensor() from numbers, nested tables and tensors", function()
    local s = lunet.tensor(3.5)
    assert.equal(0, s:dim())
    assert.equal(3.5, s:item())
    local m = lunet.tensor({{1, 2}, {3, 4}})
    assert.same({2, 2}, m:shape())
    assert.equal("float32", m:dtype())
    assert.same({{1, 2}, {3, 4}}, vals(m))
    local i = lunet.tensor({1, 2, 3}, {dtype = "int64"})
    assert.equal("int64", i:dtype())
    assert.same({}, lunet.tensor({}):totable())
    local c = lunet.tensor(m)
    c[1][1] = 9
    assert.equal(1, m[1][1]) -- a copy
    assert.equal("float64", lunet.tensor(m, "float64"):dtype())
    local g = lunet.tensor({1, 2}, {requires_grad = true})
    assert.is_true(g:requires_grad())
  end)

  it("rejects bad input with exact messages", function()
    assert.equal("tensor: ragged nested table: [2] has 1 elements, expected 2",
                 errmsg(lunet.tensor, {{1, 2}, {3}}))
    assert.equal("tensor: expected a number at [2][1], got string",
                 errmsg(lunet.tensor, {{1, 2}, {"x", 4}}))
    assert.equal("tensor: ragged nested table: expected a table at [2], got number",
                 errmsg(lunet.tensor, {{1, 2}, 3}))
    assert.equal("tensor: expected a number at [2], got a table (ragged nesting)",
                 errmsg(lunet.tensor, {1, {2}}))
    assert.equal("tensor: value 1.5 at [2] is not an integer (dtype int64)",
                 errmsg(lunet.tensor, {1, 1.5}, {dtype = "int64"}))
    assert.equal("bad argument #1 to 'tensor' (number, table or lunet.Tensor expected, got boolean)",
                 errmsg(function() return lunet.tensor(true) end))
    assert.equal("unknown dtype 'float16' (expected float32, float64 or int64)",
                 errmsg(lunet.zeros, 2, {dtype = "float16"}))
    assert.equal("zeros: unknown option 'dtyp' (expected dtype, requires_grad or generator)",
                 errmsg(lunet.zeros, 2, {dtyp = "float64"}))
    assert.equal("zeros: negative size -1 in dimension 2", errmsg(lunet.zeros, 2, -1))
    assert.equal("bad argument #1 to 'zeros' (number has no integer representation)",
                 errmsg(function() return lunet.zeros(2.5) end))
    assert.equal("ones: size 2 of the shape must be an integer, got string",
                 errmsg(lunet.ones, {2, "x"}))
    assert.equal("bad argument #2 to 'zeros' (integer or options table expected, got string)",
                 errmsg(function() return lunet.zeros(2, "x") end))
    assert.equal("zeros: option requires_grad must be a boolean, got number",
                 errmsg(lunet.zeros, 2, {requires_grad = 1}))
    assert.equal("rand: option generator must be a lunet.Generator, got number",
                 errmsg(lunet.rand, 2, {generator = 1}))
    assert.equal("bad argument #2 to 'full' (number expected, got no value)",
                 errmsg(function() return lunet.full({2}) end))
    assert.equal("eye: negative size (-1, -1)", errmsg(lunet.eye, -1))
    assert.equal("arange: step must be nonzero", errmsg(lunet.arange, 0, 5, 0))
    assert.equal("randint: expects lo < hi, got lo = 5, hi = 5", errmsg(lunet.randint, 5, 5, {2}))
    assert.equal("randperm: n must be non-negative, got -1", errmsg(lunet.randperm, -1))
    assert.equal("bad argument #1 to 'zeros_like' (lunet.Tensor expected, got number)",
                 errmsg(function() return lunet.zeros_like(3) end))
    assert.equal("linspace: number of steps must be non-negative, got -2",
                 errmsg(lunet.linspace, 0, 1, -2))
  end)
end)

describe("inspection", function()
  local t = lunet.tensor({{1, 2, 3}, {4, 5, 6}})
  it("shape, size, dim, numel, dtype, #, item, totable", function()
    assert.same({2, 3}, t:shape())
    assert.equal(3, t:size(2))
    assert.equal(3, t:size(-1))
    assert.same({2, 3}, t:size())
    assert.equal(2, t:dim())
    assert.equal(6, t:numel())
    assert.equal(2, #t)
    assert.equal(21, t:sum():item())
    assert.equal("size: dimension 3 out of range for a 2-d tensor of shape [2, 3]", errmsg(t.size, t, 3))
    assert.equal("size: dimension 0 is invalid: dims are 1-based (1 is the first, -1 the last)",
                 errmsg(t.size, t, 0))
    assert.equal("item: a tensor with 6 elements (shape [2, 3]) has no single value",
                 errmsg(t.item, t))
    assert.equal("len: a 0-d tensor has no length", errmsg(function() return #lunet.tensor(1) end))
    assert.equal(5, lunet.tensor(5):totable())
  end)
end)

describe("indexing", function()
  it("reads numbers of 1-D tensors and rows of others, negatives from the end", function()
    local v = lunet.tensor({10, 20, 30})
    assert.equal(10, v[1])
    assert.equal(30, v[-1])
    assert.equal(20, v[-2])
    local m = lunet.tensor({{1, 2}, {3, 4}, {5, 6}})
    assert.same({3, 4}, m[2]:totable())
    assert.same({5, 6}, m[-1]:totable())
    assert.equal(6, m[3][2])
    assert.equal("index: index 4 out of range for dimension 1 of size 3", errmsg(function() return v[4] end))
    assert.equal("index: index 0 is invalid: indices are 1-based (1 is the first, -1 the last)", errmsg(function() return v[0] end))
    assert.equal("tensor index must be an integer, got 1.5", errmsg(function() return v[1.5] end))
    assert.equal("tensor index must be an integer, a table of ranges, a mask tensor or a method name, got boolean",
                 errmsg(function() return v[true] end))
    assert.equal("index: a 0-d tensor cannot be indexed", errmsg(function() return lunet.tensor(1)[1] end))
    assert.is_nil(v.nosuchmethod)
  end)

  it("assigns numbers and broadcastable tensors", function()
    local m = lunet.zeros(2, 3)
    m[1] = 5
    m[2] = lunet.tensor({1, 2, 3})
    m[-1][1] = 7
    assert.same({{5, 5, 5}, {7, 2, 3}}, vals(m))
    local v = lunet.zeros(3)
    v[-1] = 4
    assert.same({0, 0, 4}, vals(v))
    assert.equal("copy_: shapes [3] and [2] do not broadcast",
                 errmsg(function() m[1] = lunet.ones(2) end))
    assert.equal("bad argument #3 to 'newindex' (number or lunet.Tensor expected, got string)",
                 errmsg(function() m[1] = "x" end))
    assert.equal("cannot set field 'foo' of a tensor", errmsg(function() m.foo = 1 end))
  end)
end)

describe("views", function()
  it("share storage: writes through a view show in the base", function()
    local base = lunet.zeros(2, 3)
    local row = base[2]
    row[3] = 9
    base:select(2, 1):fill_(4)
    base:narrow(2, 2, 1):add_(1)
    base:t()[3][1] = 8
    assert.same({{4, 1, 8}, {4, 1, 9}}, vals(base))
    local v = base:view(6)
    v[1] = -1
    assert.equal(-1, base[1][1])
    local e = lunet.tensor({1, 2}):view(2, 1):expand(2, 3)
    assert.same({{1, 1, 1}, {2, 2, 2}}, vals(e))
  end)

  it("reshape, transpose, permute, unsqueeze, squeeze, flatten", function()
    local t = lunet.arange(6):view(2, 3)
    assert.same({{0, 3}, {1, 4}, {2, 5}}, vals(t:transpose(1, 2)))
    assert.same({{0, 3}, {1, 4}, {2, 5}}, vals(t:t()))
    assert.same({{0, 3}, {1, 4}, {2, 5}}, vals(t:t():reshape(3, 2)))
    assert.same({{0, 1}, {2, 3}, {4, 5}}, vals(t:reshape(3, 2)))
    assert.same({3, 2}, t:view(-1, 2):shape())
    assert.same({3, 1, 2}, lunet.zeros(1, 2, 3):permute(3, 1, 2):shape())
    assert.same({3, 1, 2}, lunet.zeros(1, 2, 3):permute({3, 1, 2}):shape())
    assert.same({2, 1, 3}, t:unsqueeze(2):shape())
    assert.same({2, 3, 1}, t:unsqueeze(-1):shape())
    assert.same({2, 3}, t:unsqueeze(1):squeeze():shape())
    assert.same({2, 3}, t:unsqueeze(1):squeeze(1):shape())
    assert.same({6}, t:flatten():shape())
    assert.same({2, 12}, lunet.zeros(2, 3, 4):flatten(2):shape())
    assert.same({1, 2}, t:select(2, 1):unsqueeze(1):narrow(2, 1, 2):shape())
    assert.same({{3, 4, 5}}, vals(t:narrow(1, -1, 1)))
    assert.same({0, 3}, vals(t:select(2, 1)))
    assert.same({2, 5}, vals(t:select(2, -1)))
  end)

  it("copies: clone, contiguous, to, float, double, long, index_select, copy_", function()
    local t = lunet.tensor({{1.5, 2}, {3, 4}})
    local c = t:clone()
    c[1][1] = 0
    assert.equal(1.5, t[1][1])
    assert.same({{1.5, 3}, {2, 4}}, vals(t:t():contiguous()))
    assert.is_true(t:t():contiguous():is_contiguous())
    assert.equal("float64", t:double():dtype())
    assert.equal("float64", t:to("float64"):dtype())
    assert.equal("float32", t:double():float():dtype())
    assert.same({{1, 2}, {3, 4}}, vals(t:long()))
    assert.same({{3, 4}, {1.5, 2}}, vals(t:index_select(1, {2, 1})))
    assert.same({{2, 2}, {4, 4}}, vals(t:index_select(2, lunet.tensor({2, 2}, "int64"))))
    assert.same({{2}, {4}}, vals(t:index_select(-1, lunet.tensor({-0 + 2}, "int64"))))
    local d = lunet.zeros(2, 2)
    assert.equal(d, d:copy_(lunet.tensor({1, 2})))
    assert.same({{1, 2}, {1, 2}}, vals(d))
    assert.equal("index_select: index 3 out of range for dimension 1 of size 2",
                 errmsg(t.index_select, t, 1, {1, 3}))
    assert.equal("index_select: index 0 out of range for dimension 2 of size 2 (indices are "
                 .. "1-based: 1 is the first; for 0-based idx pass idx + 1)",
                 errmsg(t.index_select, t, 2, lunet.tensor({0}, "int64")))
    assert.equal("index_select: indices must be an int64 tensor, got float32",
                 errmsg(t.index_select, t, 1, lunet.tensor({1})))
    assert.equal("index_select: index 1 of the list is not an integer",
                 errmsg(t.index_select, t, 1, {1.5}))
  end)

  it("rejects bad view arguments", function()
    local t = lunet.zeros(2, 3)
    assert.equal("narrow: start 3 and length 2 exceed size 3 of dimension 2",
                 errmsg(t.narrow, t, 2, 3, 2))
    assert.equal("select: index 3 out of range for dimension 1 of size 2",
                 errmsg(t.select, t, 1, 3))
    assert.equal("transpose: dimension 0 is invalid: dims are 1-based (1 is the first, -1 the last)",
                 errmsg(t.transpose, t, 0, 1))
    assert.equal("permute: expected 2 dims for a tensor of shape [2, 3]", errmsg(t.permute, t, 1))
    assert.equal("permute: dimension 1 repeated (dims must be a permutation of 1..2)",
                 errmsg(t.permute, t, 1, 1))
    assert.equal("unsqueeze: dimension 4 out of range for a 2-d tensor of shape [2, 3]",
                 errmsg(t.unsqueeze, t, 4))
    assert.equal("t: expects a tensor with at most 2 dimensions, got shape [1, 1, 1]",
                 errmsg(lunet.zeros(1, 1, 1).t, lunet.zeros(1, 1, 1)))
    assert.equal("view: invalid size -2 in dimension 1", errmsg(t.view, t, -2, 3))
    assert.matches("^view: ", errmsg(t.view, t, 4, 2))
    assert.matches("^view: ", errmsg(t:t().view, t:t(), 6))
    assert.matches("^expand: ", errmsg(t.expand, t, 3, 3))
    assert.equal("unknown dtype 'int8' (expected float32, float64 or int64)", errmsg(t.to, t, "int8"))
  end)
end)

describe("arithmetic", function()
  local a = lunet.tensor({{1, 2}, {3, 4}})
  local r = lunet.tensor({10, 20})
  it("broadcasts and takes numbers on either side", function()
    assert.same({{11, 22}, {13, 24}}, vals(a + r))
    assert.same({{-9, -18}, {-7, -16}}, vals(a - r))
    assert.same({{10, 40}, {30, 80}}, vals(a * r))
    assert.same({{0.5, 1}, {1.5, 2}}, vals(a / 2))
    near({{1 / 3, 2 / 3}, {1, 4 / 3}}, vals(a / 3))
    near({{2, 1}, {2 / 3, 0.5}}, vals(2 / a))
    assert.same({{3, 4}, {5, 6}}, vals(2 + a))
    assert.same({{1, 0}, {-1, -2}}, vals(2 - a))
    assert.same({{0, 1}, {2, 3}}, vals(a - 1))
    assert.same({{2, 4}, {6, 8}}, vals(2 * a))
    assert.same({{1, 4}, {9, 16}}, vals(a ^ 2))
    assert.same({{2, 4}, {8, 16}}, vals(2 ^ a))
    assert.same({{-1, -2}, {-3, -4}}, vals(-a))
    assert.same(vals(a + r), vals(a:add(r)))
    assert.same({{1, 2}, {2, 2}}, vals(a:minimum(2)))
    assert.same({{2, 2}, {3, 4}}, vals(a:maximum(lunet.tensor(2))))
  end)

  it("promotes dtypes as PyTorch", function()
    local i = lunet.tensor({1, 2}, "int64")
    assert.equal("int64", (i + 1):dtype())
    assert.equal("float32", (i + 0.5):dtype())
    assert.equal("float32", (i + lunet.tensor({1, 1})):dtype())
    assert.equal("float64", (f64({1}) + lunet.tensor({1})):dtype())
    assert.same({0.5, 1}, vals(i / 2))
  end)

  it("element-wise functions", function()
    local x = f64({-1, 0, 2})
    near({math.exp(-1), 1, math.exp(2)}, vals(x:exp()), 1e-12)
    near({0, math.log(2)}, vals(f64({1, 2}):log()), 1e-12)
    near({2, 3}, vals(f64({4, 9}):sqrt()), 1e-12)
    assert.same({1, 0, 2}, vals(x:abs()))
    assert.same({-1, 0, 1}, vals(x:sign()))
    near({math.tanh(-1), 0, math.tanh(2)}, vals(x:tanh()), 1e-12)
    near({1 / (1 + math.exp(1)), 0.5, 1 / (1 + math.exp(-2))}, vals(x:sigmoid()), 1e-12)
    assert.same({0, 0, 2}, vals(x:relu()))
    near({-0.01, 0, 2}, vals(x:leaky_relu()), 1e-12)
    near({-0.2, 0, 2}, vals(x:leaky_relu(0.2)), 1e-12)
    assert.same({-0.5, 0, 1}, vals(x:clamp(-0.5, 1)))
    assert.same({-1, 0, 1}, vals(x:clamp(nil, 1)))
    local s = f64({{1, 2}, {3, 3}}):softmax(2)
    near({{1 / (1 + math.exp(1)), 1 / (1 + math.exp(-1))}, {0.5, 0.5}}, vals(s), 1e-12)
    near(vals(s:log()), vals(f64({{1, 2}, {3, 3}}):log_softmax(-1)), 1e-12)
    local c = lunet.tensor({1, 0, 1})
    assert.same({1, 20, 3}, vals(lunet.where(c, lunet.tensor({1, 2, 3}), 20)))
    assert.same({1, 20, 3}, vals(lunet.tensor({1, 2, 3}):where(c, 20)))
    assert.equal("clamp: at least one of lo and hi must be given", errmsg(x.clamp, x))
  end)

  it("add and sub take PyTorch's alpha: a ± alpha·b", function()
    local a, b = lunet.tensor({1, 2, 3}), lunet.tensor({10, 20, 30})
    assert.same({6, 12, 18}, vals(a:clone():add_(b, 0.5)))
    assert.same({-19, -38, -57}, vals(a:clone():sub_(b, 2)))
    assert.same({4, 5, 6}, vals(a:clone():add_(1, 3)))
    assert.same({31, 62, 93}, vals(a:add(b, 3)))
    assert.same({0, 1, 2}, vals(a:sub(2, 0.5)))
    assert.same({1, 2, 3}, vals(a))
    local m = lunet.zeros(2, 3):add_(lunet.tensor({1, 2, 3}), -1)   -- b broadcasts
    assert.same({{-1, -2, -3}, {-1, -2, -3}}, vals(m))
    local i = lunet.tensor({1, 2}, {dtype = "int64"})
    assert.same({3, 6}, vals(i:clone():add_(i, 2)))
    assert.equal("add_: alpha must be an integer for an int64 tensor, got 0.5", errmsg(i.add_, i, i, 0.5))
    assert.matches("number expected, got string", errmsg(a.add_, a, b, "x"))
    assert.equal("add_: shapes [3] and [2] do not broadcast", errmsg(a.add_, a, lunet.ones(2), 2))
    -- the out-of-place form is differentiable: d/dw Σ(c + 2w) = 2
    local w = lunet.tensor({1, 2}):requires_grad_()
    lunet.tensor({3, 4}):add(w, 2):sum():backward()
    assert.same({2, 2}, vals(w.grad))
  end)

  it("in-place forms return the tensor", function()
    local t = lunet.ones(2)
    assert.equal(t, t:add_(1))
    t:mul_(lunet.tensor({2, 3})):sub_(1):div_(2)
    assert.same({1.5, 2.5}, vals(t))
    t:div_(3)
    near({0.5, 2.5 / 3}, vals(t))
    assert.same({0, 0}, vals(t:zero_()))
    assert.same({3, 3}, vals(t:fill_(3)))
    assert.same({2, 2}, vals(t:clamp_(0, 2)))
    for _, v in ipairs(vals(lunet.zeros(100):uniform_(2, 3))) do assert(v >= 2 and v < 3) end
    local g = lunet.Generator(1)
    local u1 = vals(lunet.zeros(4):normal_(0, 1, g))
    g:manual_seed(1)
    assert.same(u1, vals(lunet.zeros(4):normal_(0, 1, g)))
  end)

  it("comparisons give 0/1 tensors", function()
    local x = lunet.tensor({1, 2, 3})
    assert.same({0, 1, 0}, vals(x:eq(2)))
    assert.same({1, 0, 1}, vals(x:ne(2)))
    assert.same({1, 0, 0}, vals(x:lt(2)))
    assert.same({1, 1, 0}, vals(x:le(2)))
    assert.same({0, 0, 1}, vals(x:gt(2)))
    assert.same({0, 1, 1}, vals(x:ge(lunet.tensor({3, 2, 1}))))
    assert.equal("float32", x:eq(2):dtype())
  end)

  it("rejects bad operands with exact messages", function()
    assert.equal("add: shapes [2, 2] and [3] do not broadcast",
                 errmsg(function() return a + lunet.ones(3) end))
    assert.equal("bad argument #1 to 'add' (lunet.Tensor or number expected, got string)",
                 errmsg(function() return a:add("x") end))
    assert.equal("bad argument #2 to 'add' (lunet.Tensor or number expected, got table)",
                 errmsg(function() return lunet.add(a, {}) end))
    assert.equal("bad argument #2 to 'mul' (lunet.Tensor or number expected, got boolean)",
                 errmsg(function() return a * true end))
    assert.equal("bad argument #1 to 'sub' (lunet.Tensor or number expected, got table)",
                 errmsg(function() return {} - a end))
  end)
end)

describe("reductions", function()
  local t = lunet.tensor({{1, 5, 3}, {4, 2, 6}})
  it("sum mean prod var std with optional (dim, keepdim)", function()
    assert.equal(21, t:sum():item())
    assert.same({}, t:sum():shape())
    assert.same({5, 7, 9}, vals(t:sum(1)))
    assert.same({9, 12}, vals(t:sum(2)))
    assert.same({9, 12}, vals(t:sum(-1)))
    assert.same({{9}, {12}}, vals(t:sum(2, true)))
    assert.equal(3.5, t:mean():item())
    assert.same({3, 4}, vals(t:mean(2)))
    assert.same({15, 48}, vals(t:prod(2)))
    near({4, 4}, vals(t:var(2)), 1e-6)
    near({8 / 3, 8 / 3}, vals(t:var(2, false, {correction = 0})), 1e-6)
    near({2, 2}, vals(t:std(2)), 1e-6)
    near(math.sqrt(17.5 / 5), t:std():item(), 1e-6)
  end)

  it("max/min with a dim return values and 1-based indices", function()
    local v, i = t:max(2)
    assert.same({5, 6}, vals(v))
    assert.same({2, 3}, vals(i))
    assert.equal("int64", i:dtype())
    v, i = t:min(1)
    assert.same({1, 2, 3}, vals(v))
    assert.same({1, 2, 1}, vals(i))
    assert.equal(6, t:max():item())
    assert.equal(1, t:min():item())
    assert.same({}, t:max():shape())
    assert.equal(6, t:argmax():item())
    assert.equal(1, t:argmin():item())
    assert.same({2, 3}, vals(t:argmax(2)))
    assert.same({{2}, {3}}, vals(t:argmax(2, true)))
    assert.same({{4, 5, 6}}, vals(lunet.tensor({{1, 5, 3}}):max(lunet.tensor({4, 2, 6}))))
    assert.equal("sum: dimension 3 out of range for a 2-d tensor of shape [2, 3]", errmsg(t.sum, t, 3))
    assert.equal("bad argument #3 to 'sum' (boolean expected, got number)",
                 errmsg(function() return lunet.sum(t, 1, 1) end))
  end)
end)

describe("linear algebra and joining", function()
  it("matmul, dot, cat, stack", function()
    local a = lunet.tensor({{1, 2}, {3, 4}})
    local b = lunet.tensor({{5, 6}, {7, 8}})
    assert.same({{19, 22}, {43, 50}}, vals(a:matmul(b)))
    assert.same({{19, 22}, {43, 50}}, vals(lunet.matmul(a, b)))
    assert.same({17, 39}, vals(a:matmul(lunet.tensor({5, 6}))))
    assert.equal(11, lunet.tensor({1, 2}):dot(lunet.tensor({3, 4})):item())
    assert.same({2, 2, 2}, lunet.matmul(lunet.ones(2, 2, 3), lunet.ones(2, 3, 2)):shape())
    assert.same({{1, 2}, {3, 4}, {5, 6}, {7, 8}}, vals(lunet.cat({a, b})))
    assert.same({{1, 2, 5, 6}, {3, 4, 7, 8}}, vals(lunet.cat({a, b}, 2)))
    assert.same({2, 2, 2}, lunet.stack({a, b}):shape())
    assert.same({{1, 5}, {2, 6}}, vals(lunet.stack({a[1], b[1]}, 2)))
    assert.equal("matmul: shapes [2, 2] and [3, 2] cannot be multiplied (2 vs 3)",
                 errmsg(a.matmul, a, lunet.ones(3, 2)))
    assert.equal("cat: expects a non-empty list of tensors", errmsg(lunet.cat, {}))
    assert.equal("cat: element 2 of the list is not a tensor (got number)", errmsg(lunet.cat, {a, 1}))
    assert.matches("^cat: ", errmsg(lunet.cat, {a, lunet.ones(3)}))
    assert.matches("^stack: ", errmsg(lunet.stack, {a, lunet.ones(3)}))
  end)
end)

describe("printing", function()
  it("follows PyTorch's layout", function()
    assert.equal("tensor([[ 1.0000, -2.5000],\n        [ 3.0000,  4.0000]])",
                 tostring(lunet.tensor({{1, -2.5}, {3, 4}})))
    assert.equal("tensor([1., 2., 3.])", tostring(lunet.tensor({1, 2, 3})))
    assert.equal("tensor([1, 2, 3])", tostring(lunet.tensor({1, 2, 3}, "int64")))
    assert.equal("tensor([  1, -20, 300])", tostring(lunet.tensor({1, -20, 300}, "int64")))
    assert.equal("tensor([1., 2.], dtype=lunet.float64)", tostring(f64({1, 2})))
    assert.equal("tensor(3.5000)", tostring(lunet.tensor(3.5)))
    assert.equal("tensor([1.0000e-05, 1.0000e+00, 1.0000e+05])",
                 tostring(lunet.tensor({1e-5, 1, 1e5})))
    assert.equal("tensor([0., 0.])", tostring(lunet.zeros(2)))
    assert.equal("tensor([])", tostring(lunet.zeros(0)))
    assert.equal("tensor([], size=[0, 3])", tostring(lunet.zeros(0, 3)))
    assert.equal("tensor([[[1., 2.],\n         [3., 4.]],\n\n        [[5., 6.],\n         [7., 8.]]])",
                 tostring(lunet.tensor({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}})))
    assert.equal("tensor([1., 1.], requires_grad=True)",
                 tostring(lunet.ones(2, {requires_grad = true})))
    assert.matches("^tensor%(%[2%., 2%.%], grad_fn=<%w+Backward>%)$",
                   tostring(lunet.ones(2, {requires_grad = true}) * 2))
    assert.equal("tensor([nan, inf, 1.])", tostring(lunet.tensor({0 / 0, 1 / 0, 1})))
  end)

  it("summarizes large tensors with shape and dtype", function()
    assert.equal("tensor([   0,    1,    2,  ..., 1997, 1998, 1999], size=[2000],\n       dtype=lunet.int64)",
                 tostring(lunet.arange(2000)))
    local s = tostring(lunet.zeros(40, 50))
    assert.equal("tensor([[0., 0., 0.,  ..., 0., 0., 0.],\n" ..
                 "        [0., 0., 0.,  ..., 0., 0., 0.],\n" ..
                 "        [0., 0., 0.,  ..., 0., 0., 0.],\n" ..
                 "        ...,\n" ..
                 "        [0., 0., 0.,  ..., 0., 0., 0.],\n" ..
                 "        [0., 0., 0.,  ..., 0., 0., 0.],\n" ..
                 "        [0., 0., 0.,  ..., 0., 0., 0.]], size=[40, 50], dtype=lunet.float32)", s)
  end)

  it("wraps long vectors at 80 columns", function()
    local s = tostring(lunet.arange(30, {dtype = "float32"}))
    assert.equal("tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n" ..
                 "        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n" ..
                 "        28., 29.])", s)
  end)
end)

describe("lifetime", function()
  it("close is idempotent and a closed tensor raises", function()
    local t = lunet.ones(2)
    local v = t:view(2, 1) -- a view keeps the storage
    t:close()
    t:close()
    assert.equal("closed tensor", errmsg(t.sum, t))
    assert.equal("closed tensor", errmsg(function() return t + 1 end))
    assert.equal("closed tensor", errmsg(function() return 1 + t end))
    assert.equal("closed tensor", errmsg(function() return t[1] end))
    assert.equal("closed tensor", errmsg(function() return t.grad end))
    assert.equal("closed tensor", errmsg(lunet.cat, {t}))
    assert.equal("closed tensor", errmsg(lunet.tensor, t))
    assert.equal("closed tensor", errmsg(function() return #t end))
    assert.equal("tensor(closed)", tostring(t))
    assert.same({{1}, {1}}, vals(v))
  end)

  it("frees at scope end with <close>", function()
    local outer
    do
      local x <close> = lunet.ones(2)
      outer = x
    end
    assert.equal("closed tensor", errmsg(outer.numel, outer))
  end)

  it("keeps working after errors", function()
    for _ = 1, 3 do
      assert.is_false(pcall(function() return lunet.ones(2) + lunet.ones(3) end))
      assert.same({2, 2}, vals(lunet.ones(2) + 1))
    end
  end)
end)

describe("module", function()
  it("has threads, clock, blas_info, version, grad mode and profiling", function()
    local n = lunet.get_num_threads()
    lunet.set_num_threads(1)
    assert.equal(1, lunet.get_num_threads())
    lunet.set_num_threads(n)
    assert.equal("set_num_threads: expected 1..64 threads (NN_THREADS_MAX), got 0", errmsg(lunet.set_num_threads, 0))
    local t0 = lunet.clock()
    assert.is_true(lunet.clock() >= t0)
    local info = lunet.blas_info()
    assert.equal("string", type(info.library))
    assert.equal("string", type(info.version))
    assert.equal("string", type(info.core))
    assert.equal("number", type(info.threads))
    assert.equal("string", type(lunet._VERSION))
    assert.is_true(lunet.is_grad_enabled())
    local r, s = lunet.no_grad(function(a, b) return lunet.is_grad_enabled(), a + b end, 1, 2)
    assert.is_false(r)
    assert.equal(3, s)
    assert.is_true(lunet.is_grad_enabled())
    assert.is_false(pcall(lunet.no_grad, function() error("boom") end))
    assert.is_true(lunet.is_grad_enabled())
    assert.is_true(lunet.set_grad_enabled(false))
    assert.is_false(lunet.set_grad_enabled(true))
    local report, x = lunet.profile(function()
      local a = lunet.ones(10, 10, {requires_grad = true})
      local loss = (a:matmul(a) + 1):sum()
      loss:backward()
      return loss:item()
    end)
    assert.equal(1100, x)
    assert(#report >= 2, "profile rows")
    local names = {}
    for _, row in ipairs(report) do
      names[row.name] = row
      assert(row.calls >= 1 and row.ms >= 0 and row.percent >= 0)
    end
    assert(names.matmul, "matmul profiled")
    assert.matches("^op%s+calls%s+total ms%s+%%\n", tostring(report))
    assert.is_true(lunet.is_tensor(lunet.ones(1)))
    assert.is_false(lunet.is_tensor({}))
  end)

  it("Generator: seeds, state, random helpers", function()
    local g = lunet.Generator(5)
    assert.equal(5, g:initial_seed())
    local st = g:get_state()
    assert.equal(40, #st)
    local a = {g:random(), g:random(10), g:random(3, 4), g:normal(), g:uniform(2, 3)}
    g:set_state(st)
    local b = {g:random(), g:random(10), g:random(3, 4), g:normal(), g:uniform(2, 3)}
    assert.same(a, b)
    assert(a[2] >= 1 and a[2] <= 10 and a[3] >= 3 and a[3] <= 4)
    assert.equal("set_state: expected a 40-byte state string, got 3 bytes", errmsg(g.set_state, g, "abc"))
    assert.equal("set_state: an all-zero xoshiro256** state is invalid",
                 errmsg(g.set_state, g, {0, 0, 0, 0, 0}))
    assert.equal("random: interval [5, 1] is empty", errmsg(g.random, g, 5, 1))
    assert.equal("lunet.Generator(seed=5)", tostring(g))
    lunet.manual_seed(11)
    local x = lunet.default_generator:random()
    lunet.manual_seed(11)
    assert.equal(x, lunet.default_generator:random())
  end)
end)
