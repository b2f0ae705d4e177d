-- distributed_spec.lua: lunet.distributed in a world of one rank (no launcher: MPI is not
-- started); the 2-rank behaviour is tests/mpi/run.sh's (mpirun -np 2).
local lunet = require "lunet"
local data = require "lunet.data"
local nn, optim = lunet.nn, lunet.optim
local dist = lunet.distributed

local h = dofile("tests/lua/helpers.lua")
local msg = h.strip
local function raises(want, f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok)
  assert.are.equal(want, msg(err))
end

if not dist.is_available() then
  describe("lunet.distributed without MPI", function()
    it("every call says how to build with MPI", function()
      local ok, err = pcall(dist.init)
      assert.is_false(ok)
      assert.truthy(err:find("built without MPI", 1, true))
      assert.truthy(err:find("libopenmpi-dev", 1, true))
      assert.truthy(err:find("LUNET_MPI=ON", 1, true))
    end)
  end)
  return
end

describe("lunet.distributed, one rank", function()
  setup(function() dist.init() end)

  it("init is idempotent; the world is rank 1 of 1", function()
    assert.are.equal(dist, dist.init())
    assert.are.same({1, 1, 1, 1, true}, {dist.rank(), dist.size(), dist.local_rank(), dist.local_size(),
                                         dist.is_main()})
    dist.barrier()
  end)

  it("collectives on one rank are the identity, in place", function()
    local t = lunet.tensor({1.5, -2})
    assert.are.equal(t, dist.all_reduce(t))
    assert.are.same({1.5, -2}, t:totable())
    assert.are.same({1.5, -2}, dist.all_reduce(t, "mean"):totable())
    assert.are.same({1.5, -2}, dist.broadcast(t, 1):totable())
    assert.are.same({1.5, -2}, dist.reduce(t, "max", 1):totable())
    local g = dist.all_gather(lunet.tensor({3, 4}, {dtype = "int64"}))
    assert.are.equal(1, #g)
    assert.are.same({3, 4}, g[1]:totable())
    assert.are.same({7}, dist.gather(lunet.tensor({7.0}), 1)[1]:totable())
    local out = lunet.zeros(2)
    dist.scatter(out, {lunet.tensor({5, 6})}, 1)
    assert.are.same({5, 6}, out:totable())
  end)

  it("bad arguments raise, naming the problem", function()
    raises("all_reduce: expected a tensor, got number", dist.all_reduce, 3)
    raises("broadcast: root must be a rank in 1..1, got 2", dist.broadcast, lunet.ones(2), 2)
    raises("all_reduce: the tensor must be contiguous (MPI writes its buffer in place); pass " ..
           "t:contiguous() and use the result", dist.all_reduce, lunet.ones(2, 3):t())
    raises("all_reduce: \"mean\" of an int64 tensor (use \"sum\", or a float tensor)", dist.all_reduce,
           lunet.tensor({1}, {dtype = "int64"}), "mean")
    assert.is_false(pcall(dist.all_reduce, lunet.ones(1), "prod"))
    local _, where = pcall(function() dist.all_reduce(lunet.ones(2, 3):t()) end)
    assert.truthy(where:find("^[^:]*distributed_spec%.lua:%d+: all_reduce"), where)
    raises("send: to itself (rank 1) would never complete", dist.send, lunet.ones(1), 1)
    raises("scatter: the root needs a list of 1 tensors, got nil", dist.scatter, lunet.ones(1), nil, 1)
    raises("scatter: tensor 1 has 2 elements of float32, the output 1 of float32", dist.scatter,
           lunet.ones(1), {lunet.ones(2)}, 1)
  end)

  it("objects: values, nesting and tensors round-trip; code and cycles do not", function()
    local v = {1, 2.5, "s", true, false, {x = {y = -7}}, [10] = "ten", t = lunet.eye(2, {dtype = "float64"}),
               i = lunet.tensor({1, 2}, {dtype = "int64"})}
    local w = dist.broadcast_object(v, 1)
    assert.are.equal(1, w[1]); assert.are.equal("integer", math.type(w[1]))
    assert.are.equal(2.5, w[2]); assert.are.equal("s", w[3])
    assert.are.equal(true, w[4]); assert.are.equal(false, w[5])
    assert.are.equal(-7, w[6].x.y); assert.are.equal("ten", w[10])
    assert.are.same({{1, 0}, {0, 1}}, w.t:totable())
    assert.are.equal("float64", w.t:dtype())
    assert.are.same({1, 2}, w.i:totable())
    assert.are.same({"a"}, dist.all_gather_object("a"))
    assert.is_nil(dist.broadcast_object(nil, 1))
    raises("broadcast_object: cannot send a function (only nil, booleans, numbers, strings, tensors, tables)",
           dist.broadcast_object, print, 1)
    local cyc = {}
    cyc.self = cyc
    raises("all_gather_object: tables nested deeper than 64 (a cycle?)", dist.all_gather_object, cyc)
  end)

  it("the byte helpers refuse a shape that does not fit before allocating", function()
    local C = lunet._dist
    assert.are.same({1, 2}, C.frombytes(C.tobytes(lunet.tensor({1, 2})), "float32", {2}):totable())
    assert.is_false(pcall(C.frombytes, "abcd", "float32", {2}))
    assert.is_false(pcall(C.frombytes, "abcd", "float32", {1e15, 1e15}))
    assert.is_false(pcall(C.frombytes, "abcd", "float32", {-1}))
  end)

  it("the C layer's 0-based ranks at the integer limits are refused without overflow", function()
    local C = lunet._dist
    raises("broadcast: rank " .. math.mininteger .. " is not in 1..1", C.broadcast, lunet.ones(1), math.maxinteger)
    raises("broadcast: rank " .. (math.mininteger + 1) .. " is not in 1..1", C.broadcast, lunet.ones(1),
           math.mininteger)
    raises("send: rank 3 is not in 1..1", C.send, lunet.ones(1), 2)
  end)

  it("DistributedDataParallel on one rank is the model: calls, grads, no_sync", function()
    lunet.manual_seed(3)
    local model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    local ddp = dist.DistributedDataParallel(model, {bucket_mb = 1})
    local x = lunet.randn(5, 3)
    assert.are.same(model(x):totable(), ddp(x):totable())
    assert.are.equal(#model:parameters(), #ddp:parameters())
    local r1, r2 = ddp:no_sync(function(a, b) return a + b, "x" end, 1, 2)
    assert.are.same({3, "x"}, {r1, r2})
    assert.is_false(pcall(ddp.no_sync, ddp, function() error("inside") end))
    ddp(x):sum():backward()
    assert.is_not_nil(model:parameters()[1].grad)
    assert.are.equal(0, ddp:stats().steps)   -- one rank: nothing to average
    raises("DistributedDataParallel: bucket_mb must be a positive number of megabytes, got 0",
           dist.DistributedDataParallel, model, {bucket_mb = 0})
    raises("DistributedDataParallel: unknown option 'bucket'", dist.DistributedDataParallel, model, {bucket = 1})
    raises("DistributedDataParallel: expected a model (with :parameters()), got number",
           dist.DistributedDataParallel, 5)
    raises("no_sync: expected a function, got nil", ddp.no_sync, ddp)
  end)
end)

describe("data.batches' shard", function()
  local X = lunet.arange(1, 12)
  local function rows(opts)
    local got = {}
    for xb in data.batches(X, opts) do
      for _, v in ipairs(xb:totable()) do got[#got + 1] = v end
    end
    return got
  end

  it("each shard takes every size-th row of the same order; together, each row once", function()
    assert.are.same({1, 4, 7, 10}, rows({batch_size = 2, shard = {1, 3}}))
    assert.are.same({3, 6, 9}, rows({batch_size = 2, shard = {3, 3}}))
    local seen, all = {}, rows({batch_size = 11, shuffle = true, random_state = 5})
    for r = 1, 3 do
      local mine = rows({batch_size = 2, shuffle = true, random_state = 5, shard = {r, 3}})
      for i, v in ipairs(mine) do
        assert.are.equal(all[r + 3 * (i - 1)], v)
        seen[v] = (seen[v] or 0) + 1
      end
    end
    for v = 1, 11 do assert.are.equal(1, seen[v]) end
    assert.are.same({}, rows({shard = {12, 20}}))
    assert.are.same({5}, rows({shard = {5, 20}}))
    assert.are.same(rows({batch_size = 4, shard = {1, 1}}), rows({batch_size = 4}))
    assert.are.same(rows({batch_size = 3}), (function()
      local got = {}
      for xb in dist.shard(X, {batch_size = 3}) do for _, v in ipairs(xb:totable()) do got[#got + 1] = v end end
      return got
    end)())
    assert.are.same({1, 1}, dist.shard())
  end)

  it("a bad shard raises", function()
    raises("batches: shard must be {rank, size} with 1 <= rank <= size, got {3, 2}", data.batches, X, {shard = {3, 2}})
    raises("batches: shard must be {rank, size} with 1 <= rank <= size, got 4", data.batches, X, {shard = 4})
    raises("batches: shard must be {rank, size} with 1 <= rank <= size, got {0, 2}", data.batches, X, {shard = {0, 2}})
  end)
end)
