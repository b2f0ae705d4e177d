-- safety_spec.lua: hostile shapes, indices and numbers from Lua (issue "memory safety first").
-- Each case once read or wrote outside a buffer, or gave garbage through undefined behaviour;
-- now each raises an error that names the problem, or computes what PyTorch computes.
local lunet = require "lunet"

local h = dofile("tests/lua/helpers.lua")
local errmsg, i64, f64 = h.errmsg, h.i64, h.f64

describe("sizes", function()
  it("view and reshape refuse element counts that wrap", function()
    assert.equal("view: shape [7, 7905747460161236407] is invalid for input of size 1 (too many elements)",
                 errmsg(function() return lunet.ones(1):view(7, 0x6DB6DB6DB6DB6DB7) end))
    assert.equal("view: shape [1099511627776, 1099511627776] is invalid for input of size 0 (too many elements)",
                 errmsg(function() return lunet.empty(0):view(1 << 40, 1 << 40) end))
    assert.equal("reshape: shape [7, 7905747460161236407] is invalid for input of size 1 (too many elements)",
                 errmsg(function() return lunet.ones(1):reshape(7, 0x6DB6DB6DB6DB6DB7) end))
    assert.equal("view: shape [3, 6148914691236517206] is invalid for input of size 2 (too many elements)",
                 errmsg(function() return lunet.ones(2):view(3, -1 // 3 * -1 + 6148914691236517205) end))
    -- an empty tensor may have large sizes beside a zero, within the 2^48 bound
    assert.same({1 << 40, 0}, lunet.empty(0):view(1 << 40, 0):shape())
    assert.equal("tensor: shape [281474976710656, 2] has too many elements (at most 2^48)",
                 errmsg(function() return lunet.empty(1 << 48, 2) end))
  end)

  it("expand refuses sizes whose product passes 2^48", function()
    local e = lunet.ones(1, 1):expand(1 << 40, 1)
    assert.same({1 << 40, 1}, e:shape())
    assert.equal("expand: shape [1099511627776, 1099511627776] has too many elements (at most 2^48)",
                 errmsg(function() return lunet.ones(1, 1):expand(1 << 40, 1 << 40) end))
    -- two expanded views whose broadcast shape would wrap
    local a, b = lunet.ones(1, 1):expand(1 << 40, 1), lunet.ones(1, 1):expand(1, 1 << 40)
    assert.equal("tensor: shape [1099511627776, 1099511627776] has too many elements (at most 2^48)",
                 errmsg(function() return a + b end))
  end)

  it("narrow refuses start + length past the end, however large", function()
    local t = lunet.tensor{1, 2, 3, 4}
    assert.equal("narrow: start 2 and length 9223372036854775807 exceed size 4 of dimension 1",
                 errmsg(function() return t:narrow(1, 2, math.maxinteger) end))
    assert.equal("narrow: index -9223372036854775808 out of range for dimension 1 of size 4",
                 errmsg(function() return t:narrow(1, math.mininteger, 1) end))
    assert.equal("narrow: index 9223372036854775807 out of range for dimension 1 of size 4",
                 errmsg(function() return t:narrow(1, math.maxinteger, 0) end))
    assert.same({}, t:narrow(1, 5, 0):totable())     -- one past the end, empty: allowed
    assert.same({3, 4}, t:narrow(1, -2, 2):totable())
  end)
end)

describe("totable", function()
  it("refuses shapes that would build billions of empty tables", function()
    assert.equal("totable: a tensor of shape [1099511627776, 0] would make more than 2^31 tables",
                 errmsg(function() return lunet.zeros(1 << 40, 0):totable() end))
    assert.same({{}, {}}, lunet.zeros(2, 0):totable())
  end)

  it("softmax of an empty tensor with a huge dim returns at once", function()
    local x = lunet.zeros(1 << 40, 0)
    assert.same({1 << 40, 0}, x:softmax(2):shape())
    assert.same({1 << 40, 0}, x:log_softmax(2):shape())
    local leaf = lunet.zeros({1 << 40, 0}, {requires_grad = true})
    leaf:softmax(2):sum():backward()
    assert.same({1 << 40, 0}, leaf.grad:shape())
  end)
end)

describe("indices", function()
  it("math.mininteger and math.maxinteger are out of range, not wrapped", function()
    local v, m = lunet.tensor{10, 20, 30}, lunet.tensor{{1, 2, 3}}
    assert.equal("index: index -9223372036854775808 out of range for dimension 1 of size 3",
                 errmsg(function() return v[math.mininteger] end))
    assert.equal("index: index 9223372036854775807 out of range for dimension 1 of size 3",
                 errmsg(function() return v[math.maxinteger] end))
    assert.equal("index: index -9223372036854775808 out of range for dimension 1 of size 3",
                 errmsg(function() v[math.mininteger] = 1 end))
    assert.equal("select: index -9223372036854775808 out of range for dimension 2 of size 3",
                 errmsg(function() return m:select(2, math.mininteger) end))
    assert.equal("index: index -4 out of range for dimension 1 of size 3",
                 errmsg(function() return v[-4] end))
    assert.equal(10, v[-3])
  end)

  it("index_select refuses indices outside the dim", function()
    local v = lunet.tensor{10, 20, 30}
    for _, bad in ipairs{0, 4, math.mininteger, math.maxinteger} do
      assert.has_error(function() return v:index_select(1, i64{bad}) end)
    end
    assert.same({30, 10}, v:index_select(1, i64{3, 1}):totable())
  end)
end)

describe("int64", function()
  it("refuses NaN, infinities and out-of-range values where a value is stored", function()
    assert.equal("full: nan cannot be stored in an int64 tensor (not a finite number)",
                 errmsg(function() return lunet.full({2}, 0/0, {dtype = "int64"}) end))
    assert.equal("full: inf cannot be stored in an int64 tensor (not a finite number)",
                 errmsg(function() return lunet.full({2}, math.huge, {dtype = "int64"}) end))
    assert.equal("fill_: 1e+19 cannot be stored in an int64 tensor (outside int64's range)",
                 errmsg(function() return i64{1}:fill_(1e19) end))
    assert.equal("to: nan cannot be stored in an int64 tensor (not a finite number)",
                 errmsg(function() return lunet.tensor{0/0}:long() end))
    assert.equal("to: -inf cannot be stored in an int64 tensor (not a finite number)",
                 errmsg(function() return lunet.tensor{1, -math.huge}:long() end))
    assert.equal("to: 1e+300 cannot be stored in an int64 tensor (outside int64's range)",
                 errmsg(function() return f64{1e300}:long() end))
    assert.equal("copy_: nan cannot be stored in an int64 tensor (not a finite number)",
                 errmsg(function() return i64{1, 2}:copy_(lunet.tensor{1, 0/0}) end))
    assert.same({1, -2}, lunet.tensor{1.9, -2.9}:long():totable())   -- fractions truncate
    assert.equal("linspace: end points must be finite, got nan and 1",
                 errmsg(function() return lunet.linspace(0/0, 1, 3, {dtype = "int64"}) end))
  end)

  it("numbers int64 cannot hold promote to float, as in PyTorch", function()
    local r = i64{1} + math.huge
    assert.equal("float32", r:dtype())
    assert.equal(math.huge, r[1])
    assert.equal("float32", (i64{1} * (0/0)):dtype())
    assert.equal("float32", (i64{1} + 1e300):dtype())
  end)

  it("integers past 2^53 stay exact", function()
    assert.equal(math.maxinteger, (i64{0} + math.maxinteger)[1])
    assert.equal(math.maxinteger - 1, (i64{math.maxinteger} - 1)[1])
    assert.equal((1 << 53) + 1, (i64{1 << 53} + 1)[1])
    assert.equal((1 << 60) + 3, i64{3}:add_(1 << 60)[1])
    local t = lunet.arange((1 << 53), (1 << 53) + 4)
    assert.same({(1 << 53), (1 << 53) + 1, (1 << 53) + 2, (1 << 53) + 3}, t:totable())
    assert.same({math.mininteger, -(1 << 62), 0, 1 << 62},
                lunet.arange(math.mininteger, math.maxinteger, 1 << 62):totable())
    assert.same({5, 3, 1}, lunet.arange(5, 0, -2):totable())
  end)

  it("arithmetic wraps in two's complement, as PyTorch's", function()
    assert.equal(math.mininteger, (i64{math.maxinteger} + 1)[1])
    assert.equal(math.mininteger, (i64{math.maxinteger} + i64{1})[1])
    assert.equal(1, (i64{math.maxinteger} * i64{math.maxinteger})[1])
    assert.equal(math.mininteger, (-i64{math.mininteger})[1])
    assert.equal(math.mininteger, i64{math.mininteger}:abs()[1])
    assert.equal(0, (i64{2} ^ i64{64})[1])
    assert.equal(1024, (i64{2} ^ i64{10})[1])
    assert.equal(-2, lunet.dot(i64{math.maxinteger}, i64{2}):item())
    assert.same({{-2}}, lunet.matmul(i64{{math.maxinteger}}, i64{{2}}):totable())
  end)

  it("clamp takes infinite and fractional bounds", function()
    assert.same({1, -5, 7}, i64{1, -5, 7}:clamp(-math.huge, math.huge):totable())
    assert.same({2, 2, 6}, i64{1, -5, 7}:clamp(1.5, 6.5):totable())
    assert.equal("int64", i64{1}:clamp(-math.huge, 0):dtype())
  end)

  it("refuses integers to negative integer powers, as PyTorch", function()
    assert.equal("pow: integers to negative integer powers are not allowed (exponent -1; use a float tensor: a:double() ^ b)",
                 errmsg(function() return i64{2} ^ i64{-1} end))
    assert.equal(0.5, (i64{2} ^ -1)[1])   -- a number exponent computes in float, as before
  end)
end)

describe("in place on overlapping memory", function()
  local msg = "the tensor of shape [4, 3] has elements that share memory (an expanded view?), " ..
              "so an in-place result would be ill-defined; clone() it first"
  it("is refused for every in-place op", function()
    local function e() return lunet.zeros(1, 3):expand(4, 3) end
    assert.equal("add_: " .. msg, errmsg(function() return e():add_(lunet.ones(4, 3)) end))
    assert.equal("add_: " .. msg, errmsg(function() return e():add_(1) end))
    assert.equal("mul_: " .. msg, errmsg(function() return e():mul_(2) end))
    assert.equal("fill_: " .. msg, errmsg(function() return e():fill_(1) end))
    assert.equal("copy_: " .. msg, errmsg(function() return e():copy_(lunet.ones(4, 3)) end))
    assert.equal("clamp_: " .. msg, errmsg(function() return e():clamp_(0, 1) end))
    assert.equal("uniform_: " .. msg, errmsg(function() return e():uniform_() end))
    local base = lunet.zeros(1, 3)
    pcall(function() base:expand(4, 3):add_(lunet.ones(4, 3)) end)
    assert.same({{0, 0, 0}}, base:totable())   -- nothing was written
  end)

  it("still works on views that do not overlap", function()
    local a = lunet.zeros(2, 3)
    a:t():add_(1)
    assert.same({{1, 1, 1}, {1, 1, 1}}, a:totable())
    a:narrow(2, 2, 1):fill_(5)
    assert.same({{1, 5, 1}, {1, 5, 1}}, a:totable())
    local s = lunet.zeros(4):view(2, 2):select(2, 1)
    s:add_(3)
    assert.same({3, 3}, s:totable())
    lunet.zeros(1, 3):expand(1, 3):add_(1)   -- size-1 dims never overlap
  end)
end)
