-- lunet/distributed.lua: data-parallel training over MPI (lunet.distributed, docs/distributed.md).
--   local dist = lunet.distributed
--   dist.init()                         -- mpirun -np N lunet script.lua, or alone: a 1-rank world
--   local ddp = dist.DistributedDataParallel(model)
--   for xb, yb in data.batches(X, y, {batch_size = 64, shuffle = true, shard = dist.shard()}) do …
-- Ranks are 1-based here (rank 1 is the main one) and 0-based in lunet._dist (ldist.c), which
-- makes the MPI calls; this file converts, checks arguments and serialises Lua values.
local lunet = require "lunet"
local util = require "lunet.util"
local C = lunet._dist
local raise, checkopts = util.raise, util.checkopts
local type, math, string, table, pairs, ipairs, setmetatable, tostring, pcall, error, require =
  type, math, string, table, pairs, ipairs, setmetatable, tostring, pcall, error, require
_ENV = nil

local M = {}
local W   -- {rank, size, local_rank, local_size, mpi} after init (0-based ranks)

function M.init()
  if not W then
    local rank, size, lrank, lsize, mpi = C.init()
    W = {rank = rank, size = size, local_rank = lrank, local_size = lsize, mpi = mpi}
  end
  return M
end

local function world() return W or M.init() and W end

-- C's errors (luaL_error in lunet._dist) raised again at the user's line
local function rethrow(ok, ...)
  if not ok then raise((...)) end
  return ...
end
local function call(f, ...) return rethrow(pcall(f, ...)) end

function M.is_available() return C.built() end
function M.rank() return world().rank + 1 end
function M.size() return world().size end
function M.local_rank() return world().local_rank + 1 end
function M.local_size() return world().local_size end
function M.is_main() return world().rank == 0 end
function M.barrier() world() C.barrier() end

-- a 1-based rank argument as MPI's 0-based one (default: rank 1)
local function root_arg(fname, r)
  if r == nil then return 0 end
  if math.type(r) ~= "integer" or r < 1 or r > world().size then
    raise(("%s: root must be a rank in 1..%d, got %s"):format(fname, world().size, tostring(r)))
  end
  return r - 1
end

local function tensor_arg(fname, t)
  if not lunet.is_tensor(t) then raise(fname .. ": expected a tensor, got " .. type(t)) end
  return t
end

local function rows(t)
  local out = {}
  for i = 1, t:size(1) do out[i] = t:select(1, i) end
  return out
end

function M.all_reduce(t, op)
  world()
  return call(C.all_reduce, tensor_arg("all_reduce", t), op or "sum")
end
function M.reduce(t, op, root)
  world()
  return call(C.reduce, tensor_arg("reduce", t), op or "sum", root_arg("reduce", root))
end
function M.broadcast(t, root)
  world()
  return call(C.broadcast, tensor_arg("broadcast", t), root_arg("broadcast", root))
end
-- all_gather(t) -> {rank 1's t, …}: views of one [size, …] tensor that MPI filled
function M.all_gather(t)
  world()
  return rows(call(C.all_gather, tensor_arg("all_gather", t)))
end
function M.gather(t, root)
  world()
  local all = call(C.gather, tensor_arg("gather", t), root_arg("gather", root))
  return all and rows(all) or nil
end
-- scatter(out, list, root): list (on root: one tensor per rank, each out's shape) -> out
function M.scatter(out, list, root)
  world()
  local r = root_arg("scatter", root)
  tensor_arg("scatter", out)
  local src
  if W.rank == r then
    if type(list) ~= "table" or #list ~= W.size then
      raise(("scatter: the root needs a list of %d tensors, got %s"):format(W.size, type(list)))
    end
    for i, t in ipairs(list) do
      tensor_arg("scatter", t)
      if t:numel() ~= out:numel() or t:dtype() ~= out:dtype() then
        raise(("scatter: tensor %d has %d elements of %s, the output %d of %s"):format(
          i, t:numel(), t:dtype(), out:numel(), out:dtype()))
      end
    end
    src = lunet.stack(list):contiguous()
  end
  return call(C.scatter, out, src, r)
end
function M.send(t, dst, tag)
  world()
  call(C.send, tensor_arg("send", t), root_arg("send", dst), tag)
end
-- recv(t [, src] [, tag]) -> t, the rank it came from (src nil: any)
function M.recv(t, src, tag)
  world()
  local s = src == nil and -1 or root_arg("recv", src)
  local _, from = call(C.recv, tensor_arg("recv", t), s, tag)
  return t, from + 1
end

---------------------------------------------------------------------------------------------------
-- Lua values as bytes: nil, booleans, numbers, strings, tensors and tables of them (keys of
-- those kinds too), nested up to MAX_DEPTH; no functions, no code is ever loaded.

local MAX_DEPTH = 64

local function encode(v, out, depth)
  local tv = type(v)
  if v == nil then out[#out + 1] = "n"
  elseif tv == "boolean" then out[#out + 1] = v and "t" or "f"
  elseif math.type(v) == "integer" then out[#out + 1] = string.pack("<c1j", "i", v)
  elseif tv == "number" then out[#out + 1] = string.pack("<c1d", "d", v)
  elseif tv == "string" then out[#out + 1] = string.pack("<c1s4", "s", v)
  elseif lunet.is_tensor(v) then
    local shape = v:shape()
    out[#out + 1] = string.pack("<c1s1B", "T", v:dtype(), #shape)
    for _, d in ipairs(shape) do out[#out + 1] = string.pack("<j", d) end
    out[#out + 1] = string.pack("<s8", C.tobytes(v:contiguous()))
  elseif tv == "table" then
    if depth >= MAX_DEPTH then error("tables nested deeper than " .. MAX_DEPTH .. " (a cycle?)", 0) end
    local n = 0
    for _ in pairs(v) do n = n + 1 end
    out[#out + 1] = string.pack("<c1j", "{", n)
    for k, x in pairs(v) do
      encode(k, out, depth + 1)
      encode(x, out, depth + 1)
    end
  else
    error("cannot send a " .. tv .. " (only nil, booleans, numbers, strings, tensors, tables)", 0)
  end
end

local function decode(s, pos, depth)
  if depth > MAX_DEPTH then error("nested too deeply", 0) end
  local tag = s:sub(pos, pos)
  pos = pos + 1
  if tag == "n" then return nil, pos
  elseif tag == "t" then return true, pos
  elseif tag == "f" then return false, pos
  elseif tag == "i" then return string.unpack("<j", s, pos)
  elseif tag == "d" then return string.unpack("<d", s, pos)
  elseif tag == "s" then return string.unpack("<s4", s, pos)
  elseif tag == "T" then
    local dt, nd
    dt, nd, pos = string.unpack("<s1B", s, pos)
    local shape = {}
    for i = 1, nd do shape[i], pos = string.unpack("<j", s, pos) end
    local bytes
    bytes, pos = string.unpack("<s8", s, pos)
    return C.frombytes(bytes, dt, shape), pos
  elseif tag == "{" then
    local n, t = nil, {}
    n, pos = string.unpack("<j", s, pos)
    for _ = 1, n do
      local k, x
      k, pos = decode(s, pos, depth + 1)
      x, pos = decode(s, pos, depth + 1)
      if k == nil then error("a nil key", 0) end
      t[k] = x
    end
    return t, pos
  end
  error("unknown tag " .. tostring(tag), 0)
end

local function dumps(fname, v)
  local out = {}
  local ok, err = pcall(encode, v, out, 0)
  if not ok then raise(fname .. ": " .. tostring(err)) end
  return table.concat(out)
end

local function loads(fname, s)
  local ok, v = pcall(decode, s, 1, 0)
  if not ok then raise(fname .. ": corrupt data: " .. tostring(v)) end
  return v
end

-- broadcast_object(v, root) -> root's v on every rank
function M.broadcast_object(v, root)
  world()
  local r = root_arg("broadcast_object", root)
  local s = W.rank == r and dumps("broadcast_object", v) or nil
  return loads("broadcast_object", call(C.bcast_bytes, s, r))
end

-- all_gather_object(v) -> {rank 1's v, …}
function M.all_gather_object(v)
  world()
  local all = call(C.allgather_bytes, dumps("all_gather_object", v))
  for i = 1, #all do all[i] = loads("all_gather_object", all[i]) end
  return all
end

---------------------------------------------------------------------------------------------------
-- data

-- shard() -> {rank, size} for data.batches' shard option; shard(X [, y] [, opts]) is
-- data.batches(X, y, opts) with this rank's shard
function M.shard(X, y, opts)
  world()
  if X == nil then return {W.rank + 1, W.size} end
  if opts == nil and type(y) == "table" and not lunet.is_tensor(y) then y, opts = nil, y end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.shard = {W.rank + 1, W.size}
  return require("lunet.data").batches(X, y, o)
end

---------------------------------------------------------------------------------------------------
-- DistributedDataParallel

local DDP = {}

-- A DDP's own methods, then the model's (methods called on the model), then its fields
local function ddp_index(self, k)
  local v = DDP[k]
  if v ~= nil then return v end
  local m = self.module
  v = m[k]
  if type(v) == "function" then return function(_, ...) return v(m, ...) end end
  return v
end

local DDP_MT = {__index = ddp_index, __name = "lunet.DistributedDataParallel"}
function DDP_MT.__call(self, ...) return self.module(...) end
function DDP_MT.__tostring(self)
  return ("DistributedDataParallel(%d ranks, %d buckets) of %s"):format(W.size, self.buckets, tostring(self.module))
end

-- rank 1's state (parameters and buffers) into every rank's model, in the names' order (pairs'
-- order differs between processes: Lua seeds its string hashes per state)
local function sync_state(model)
  local sd, names = model:state_dict(), {}
  for k in pairs(sd) do names[#names + 1] = k end
  table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(names) do
    local t = sd[k]
    if lunet.is_tensor(t) then
      local c = t:contiguous()
      call(C.broadcast, c, 0)
      if c ~= t then t:copy_(c) end
    end
  end
  model:load_state_dict(sd)
end

function M.DistributedDataParallel(model, opts)
  local F = "DistributedDataParallel"
  world()
  if type(model) ~= "table" and type(model) ~= "userdata" or not model.parameters then
    raise(F .. ": expected a model (with :parameters()), got " .. type(model))
  end
  opts = checkopts(F, opts, {"bucket_mb", "broadcast"})
  local mb = opts.bucket_mb or 25
  if type(mb) ~= "number" or not (mb > 0) or mb > 1e6 then
    raise(F .. ": bucket_mb must be a positive number of megabytes, got " .. tostring(mb))
  end
  if opts.broadcast ~= false and W.size > 1 then sync_state(model) end
  local params, rev = model:parameters(), {}
  for i = #params, 1, -1 do
    if params[i]:requires_grad() then rev[#rev + 1] = params[i] end   -- last layers first
  end
  local h, nb = call(C.ddp_new, rev, math.floor(mb * 1048576))
  return setmetatable({module = model, handle = h, buckets = nb}, DDP_MT)
end

-- ddp:no_sync(fn, ...): runs fn without averaging the gradients (accumulation steps); the next
-- backward outside averages everything accumulated
function DDP:no_sync(fn, ...)
  if type(fn) ~= "function" then raise("no_sync: expected a function, got " .. type(fn)) end
  self.handle:set_sync(false)
  local res = table.pack(pcall(fn, ...))
  self.handle:set_sync(true)
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

-- ddp:stats() -> {comm_seconds, bytes, steps}: time in MPI calls, bytes all-reduced, and
-- backward passes averaged, since the start
function DDP:stats()
  local s, b, n = self.handle:stats()
  return {comm_seconds = s, bytes = b, steps = n}
end

return M
