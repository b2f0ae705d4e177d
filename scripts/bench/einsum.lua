-- scripts/bench/einsum.lua: lunet.einsum against torch.einsum on attention's two products,
-- scores `bhqd,bhkd->bhqk` and context `bhqk,bhkd->bhqd` (b = h = 8, q = k = 128, d = 64,
-- float32), forward only, on 1 thread and on the default count. Reports ms per call.
--
--   lunet scripts/bench/einsum.lua [--quick]
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local lunet = require "lunet"

B.header("einsum")
local REPS = B.reps(15, 5)
local Bt, H, Q, D = 8, 8, 128, 64
local default = lunet.get_num_threads()
local cases = {
  {"scores", "bhqd,bhkd->bhqk", {Bt, H, Q, D}, {Bt, H, Q, D}},
  {"context", "bhqk,bhkd->bhqd", {Bt, H, Q, Q}, {Bt, H, Q, D}},
}

local function ms(v) return ("%.3f ms"):format(v * 1e3) end
local peer = B.has_python("torch") and B.run_python("einsum.py", {REPS, default}) or nil
for _, threads in ipairs(default > 1 and {1, default} or {1}) do
  lunet.set_num_threads(threads)
  for _, c in ipairs(cases) do
    local a, b = lunet.randn(c[3]), lunet.randn(c[4])
    local ts = B.time(function() return lunet.einsum(c[2], a, b) end, REPS, 3)
    local name = ("einsum %s %s, %d thr"):format(c[1], c[2], threads)
    if peer then
      B.compare(name, ts, peer[("%s_%d"):format(c[1], threads)], "torch", ">= 1×", ms)
    else
      B.skip(name, "torch", "python3-torch", ms((B.stats(ts))))
    end
  end
end
lunet.set_num_threads(default)
