-- errors_spec.lua: errors that teach (issue 13). A slip with a usual fix says the fix, and every
-- error names the caller's line (this file's), never a line inside Lunet or a C function's
-- made-up name.
local lunet = require "lunet"
local nn = lunet.nn
local data = lunet.data

-- The error of f and the line it must name: f is written on the caller's line, its call is not
-- a tail call (return (g(...))), so the line is where the slip is.
local function catch(f)
  local line = debug.getinfo(2, "l").currentline
  local ok, e = pcall(f)
  assert(not ok, "expected an error")
  return tostring(e), line
end
-- e starts with this file's name and the given line, then msg (plain text, anywhere after)
local function at_caller(e, line, msg)
  local file, l = e:match("^(.-):(%d+): ")
  assert(file, "no position in: " .. e)
  assert.matches("errors_spec%.lua$", file)
  assert.are.equal(line, tonumber(l), e)
  assert(not e:find("cfn", 1, true) and not e:find("'?'", 1, true), "C function name in: " .. e)
  if msg then assert.is_truthy(e:find(msg, 1, true), ("want %q in %q"):format(msg, e)) end
end

local x = lunet.randn(3, 4)
local ids0 = lunet.tensor({0, 1, 2}, {dtype = "int64"})
local fids = lunet.tensor({1, 2, 3})

describe("class ids", function()
  it("a 0-based label set given to cross_entropy names y + 1", function()
    local e, line = catch(function() return (nn.cross_entropy(x, ids0)) end)
    at_caller(e, line, "cross_entropy: target class id 0: Lunet's class ids are 1-based: for labels 0..K-1 pass y + 1")
  end)

  it("the same from nll_loss and from the CrossEntropyLoss module", function()
    local e, line = catch(function() return (nn.nll_loss(x, ids0)) end)
    at_caller(e, line, "nll_loss: target class id 0: Lunet's class ids are 1-based")
    local crit = nn.CrossEntropyLoss()
    e, line = catch(function() return (crit(x, ids0)) end)
    at_caller(e, line, "for labels 0..K-1 pass y + 1")
  end)

  it("float class ids name :long()", function()
    local e, line = catch(function() return (nn.cross_entropy(x, fids)) end)
    at_caller(e, line, "cross_entropy: class ids must be int64: y:long()")
    e, line = catch(function() return (nn.nll_loss(x, fids)) end)
    at_caller(e, line, "nll_loss: class ids must be int64: y:long()")
  end)

  it("an id past the classes names the range", function()
    local e, line = catch(function() return (nn.cross_entropy(x, lunet.tensor({1, 2, 5}, {dtype = "int64"}))) end)
    at_caller(e, line, "cross_entropy: target class id 5 is out of range for 4 classes (ids are 1..4)")
  end)
end)

describe("index 0", function()
  it("t[0] says indices are 1-based", function()
    local e, line = catch(function() return (x[0]) end)
    at_caller(e, line, "index 0 is invalid: indices are 1-based (1 is the first, -1 the last)")
  end)

  it("select, narrow, index_select with 0", function()
    local e, line = catch(function() return (x:select(1, 0)) end)
    at_caller(e, line, "select: index 0 is invalid: indices are 1-based")
    e, line = catch(function() return (x:narrow(2, 0, 1)) end)
    at_caller(e, line, "narrow: index 0 is invalid: indices are 1-based")
    e, line = catch(function() return (x:index_select(1, {0, 1})) end)
    at_caller(e, line, "for 0-based idx pass idx + 1")
    e, line = catch(function() return (x:index_select(1, lunet.tensor({0}, {dtype = "int64"}))) end)
    at_caller(e, line, "for 0-based idx pass idx + 1")
  end)

  it("dimension 0 says dims are 1-based", function()
    local e, line = catch(function() return (x:sum(0)) end)
    at_caller(e, line, "dimension 0 is invalid: dims are 1-based")
  end)
end)

describe("shape mismatches name the op and both shapes", function()
  it("arithmetic, matmul, a loss", function()
    local e, line = catch(function() return (x + lunet.randn(5)) end)
    at_caller(e, line, "add: shapes [3, 4] and [5] do not broadcast")
    e, line = catch(function() return (lunet.atan2(x, lunet.randn(2, 4))) end)
    at_caller(e, line, "atan2: shapes [3, 4] and [2, 4] do not broadcast")
    e, line = catch(function() return (x:matmul(lunet.randn(3, 4))) end)
    at_caller(e, line, "[3, 4]")
    e, line = catch(function() return (nn.mse_loss(x, lunet.randn(3, 5))) end)
    at_caller(e, line, "mse_loss: input shape [3, 4] and target shape [3, 5] differ")
  end)

  it("a layer inside a Sequential, called from here", function()
    local model = nn.Sequential(nn.Linear(4, 2))
    local e, line = catch(function() return (model(lunet.randn(3, 5))) end)
    at_caller(e, line, "Linear: expected input with 4 features, got 5")
  end)
end)

describe("errors from C functions and pure-Lua modules point at the caller", function()
  it("a wrong argument type to a lunet function", function()
    local e, line = catch(function() return (lunet.sin(3)) end)
    at_caller(e, line, "bad argument #1 to 'sin' (lunet.Tensor expected, got number)")
  end)

  it("data.batches given mismatched X and y", function()
    local e, line = catch(function() return (data.batches(x, lunet.randn(4), {batch_size = 2})) end)
    at_caller(e, line, "batches: X has 3 rows but y has 4")
  end)

  it("an element-wise op given int64 where it needs float, or float where it needs int64", function()
    local k = lunet.tensor({1, 2}, {dtype = "int64"})
    local e, line = catch(function() return (k:lerp(k, 0.5)) end)
    at_caller(e, line, "lerp: needs float tensors, got int64")
    e, line = catch(function() return (x:band(x)) end)
    at_caller(e, line, "bitwise ops need int64 tensors, got float32 and float32 (use t:long())")
  end)
end)
