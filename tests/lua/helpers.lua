-- helpers.lua: small helpers shared by the specs. Not a spec itself; a spec loads it with
--   local h = dofile("tests/lua/helpers.lua")
-- (CTest runs the specs from the source directory).
local lunet = require "lunet"

local h = {}

function h.f64(v) return lunet.tensor(v, {dtype = "float64"}) end
function h.i64(v) return lunet.tensor(v, {dtype = "int64"}) end
-- a float64 leaf that requires grad
function h.leaf(v) return lunet.tensor(v, {dtype = "float64", requires_grad = true}) end
function h.vals(t) return t:totable() end

-- a and b nested tables of numbers (or numbers) equal within tol (default 1e-12)
function h.near(a, b, tol, path)
  tol, path = tol or 1e-12, path or ""
  if type(a) == "number" or type(b) == "number" then
    assert(type(a) == "number" and type(b) == "number",
           ("at %s: %s vs %s"):format(path, tostring(a), tostring(b)))
    assert(math.abs(a - b) <= tol, ("at %s: got %.15g, want %.15g"):format(path, a, b))
    return
  end
  assert(#a == #b, ("at %s: %d elements, want %d"):format(path, #a, #b))
  for i = 1, #a do h.near(a[i], b[i], tol, path .. "[" .. i .. "]") end
end

-- an error value as text without its "file:line: " prefix
function h.strip(err) return (tostring(err):gsub("^[^:]*:%d+: ", "")) end

-- the error message of fn(...) without its "file:line: " prefix
function h.errmsg(fn, ...)
  local ok, e = pcall(fn, ...)
  assert(not ok, "expected an error")
  return h.strip(e)
end

-- fn() raises an error whose message holds want (plain text)
function h.raises_holding(fn, want)
  local msg = h.errmsg(fn)
  assert(msg:find(want, 1, true), ("message %q does not hold %q"):format(msg, want))
end

function h.read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- writes bytes to path and returns path
function h.write_file(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
  return path
end

-- A fixture tensor ({shape = {...}, data = {...}}, as scripts/make_*_fixtures.py write them) in
-- float64, a leaf that requires grad when grad is true
function h.fixture(f, grad)
  local t = lunet.tensor(f.data, {dtype = "float64"}):view(f.shape)
  if grad then t:set_requires_grad(true) end
  return t
end

-- max |a - b| over two tensors of one shape (the shapes are asserted equal first)
function h.maxdiff(a, b)
  assert(h.near(a:shape(), b:shape(), 0) == nil, "shapes differ")
  return (a:to("float64") - b:to("float64")):abs():max():item()
end

-- Trains model on (x, y) for steps Adam steps (lr 0.01) with cross-entropy; the first and the
-- last loss
function h.train_losses(model, x, y, steps)
  local opt = lunet.optim.Adam(model:parameters(), {lr = 0.01})
  local first, last
  for step = 1, steps do
    opt:zero_grad()
    local loss = lunet.nn.cross_entropy(model(x), y)
    loss:backward()
    opt:step()
    if step == 1 then first = loss:item() end
    last = loss:item()
  end
  return first, last
end

return h
