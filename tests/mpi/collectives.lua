-- tests/mpi/collectives.lua (mpirun -np 2): each collective's values, in place where the API
-- says so, for float32, float64 and int64; objects; bad arguments raise.
local lunet = require "lunet"
local dist = lunet.distributed
dist.init()
dist.init()   -- idempotent
local r, n = dist.rank(), dist.size()
assert(n == 2, "run with mpirun -np 2")
local failures = 0
local function check(ok, msg)
  if not ok then failures = failures + 1; print(("rank %d FAIL: %s"):format(r, msg)) end
end
local function same(t, want, msg)
  local got = t:totable()
  local ok = #got == #want
  for i = 1, #want do ok = ok and got[i] == want[i] end
  check(ok, msg .. ": got {" .. table.concat(got, ", ") .. "}, want {" .. table.concat(want, ", ") .. "}")
end

check(dist.local_rank() == r and dist.local_size() == 2, "local ranks on one host")
check(dist.is_main() == (r == 1), "is_main")
for _, dt in ipairs {"float32", "float64", "int64"} do
  local t = lunet.tensor({1, 2, 3}, {dtype = dt}) * r        -- {1,2,3} and {2,4,6}
  check(dist.all_reduce(t) == t, dt .. ": all_reduce returns its tensor")
  same(t, {3, 6, 9}, dt .. " all_reduce sum")
  same(dist.all_reduce(lunet.tensor({r, -r}, {dtype = dt}), "max"), {2, -1}, dt .. " max")
  same(dist.all_reduce(lunet.tensor({r, -r}, {dtype = dt}), "min"), {1, -2}, dt .. " min")
  local b = lunet.tensor({r, 10 * r}, {dtype = dt})
  same(dist.broadcast(b, 2), {2, 20}, dt .. " broadcast from rank 2")
  local red = dist.reduce(lunet.tensor({r}, {dtype = dt}), "sum", 2)
  same(red, {r == 2 and 3 or 1}, dt .. " reduce to rank 2 (others keep theirs)")
end
same(dist.all_reduce(lunet.tensor({1, 2}, {dtype = "float64"}) * r, "mean"), {1.5, 3}, "mean")
local ok, err = pcall(dist.all_reduce, lunet.tensor({1}, {dtype = "int64"}), "mean")
check(not ok and err:find("int64", 1, true), "mean of int64 raises: " .. tostring(err))
ok, err = pcall(dist.all_reduce, lunet.ones(3, 2):t())
check(not ok and err:find(":contiguous()", 1, true), "non-contiguous raises: " .. tostring(err))
ok, err = pcall(dist.broadcast, lunet.ones(2), 3)
check(not ok and err:find("1..2", 1, true), "root 3 raises: " .. tostring(err))
ok, err = pcall(dist.all_reduce, lunet.ones(2), "prod")
check(not ok, "unknown op raises")

local g = dist.all_gather(lunet.tensor({r, r * r}, {dtype = "int64"}))
check(#g == 2, "all_gather: one tensor per rank")
same(g[1], {1, 1}, "all_gather rank 1")
same(g[2], {2, 4}, "all_gather rank 2")
local s0 = dist.all_gather(lunet.tensor(r * 1.0))
check(s0[2]:dim() == 0 and s0[2]:item() == 2, "all_gather of 0-d tensors")
local ga = dist.gather(lunet.tensor({r}), 1)
if r == 1 then same(ga[1], {1}, "gather 1") same(ga[2], {2}, "gather 2")
else check(ga == nil, "gather: nil off the root") end
local out = lunet.zeros(2)
dist.scatter(out, r == 2 and {lunet.tensor({1, 2}), lunet.tensor({3, 4})} or nil, 2)
same(out, r == 1 and {1, 2} or {3, 4}, "scatter from rank 2")

local buf = lunet.tensor({r, r}, {dtype = "float64"})
if r == 1 then dist.send(buf, 2, 5) else
  local _, from = dist.recv(buf, 1, 5)
  check(from == 1, "recv's source")
  same(buf, {1, 1}, "send/recv")
end
ok, err = pcall(dist.send, buf, r)
check(not ok and err:find("itself", 1, true), "send to itself raises")

local v = dist.broadcast_object(r == 1 and {a = 1, b = {"x", true, 2.5, [10] = -3}, t = lunet.eye(2)} or "ignored", 1)
check(type(v) == "table" and v.a == 1 and math.type(v.a) == "integer" and v.b[1] == "x" and v.b[2] == true
      and v.b[3] == 2.5 and v.b[10] == -3, "broadcast_object's table")
check(lunet.is_tensor(v.t) and (v.t - lunet.eye(2)):abs():sum():item() == 0, "broadcast_object's tensor")
local all = dist.all_gather_object(r == 1 and "one" or {2})
check(all[1] == "one" and all[2][1] == 2, "all_gather_object")
ok, err = pcall(dist.all_gather_object, print)
check(not ok and err:find("function", 1, true), "a function cannot be sent: " .. tostring(err))
dist.barrier()

local total = dist.all_reduce(lunet.tensor({failures}, {dtype = "int64"})):sum():item()
if dist.is_main() then print(("collectives.lua: %d failures"):format(total)) end
if total > 0 then os.exit(1) end
