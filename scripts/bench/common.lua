-- scripts/bench/common.lua: what every benchmark shares — where things are, repeated timing
-- with min and median, running a Python peer, and one machine-readable line per result.
--
-- A benchmark runs Lunet and its peer in the same invocation and prints, for each measurement,
--   RESULT <name>|<lunet>|<peer>|<ratio>|<target>
-- which scripts/bench/run_all collects into one table. Ratios are peer time / Lunet time, so
-- above 1 means Lunet is faster. Nothing here is a test: no threshold makes anything fail.
local lunet = require "lunet"

local M = {}

-- Debian's python3-torch / python3-sklearn live under /usr/bin/python3 (not a pyenv python3 on PATH);
-- BENCH_PYTHON overrides it (e.g. to check that a missing peer is skipped cleanly).
M.python = os.getenv("BENCH_PYTHON") or "/usr/bin/python3"

local function dirname(p) return p:match("^(.*)/[^/]*$") or "." end
local function absolute(p)
  if p:sub(1, 1) == "/" then return p end
  local cwd = os.getenv("PWD") or io.popen("pwd"):read("l")
  return cwd .. "/" .. p
end

M.dir = absolute(dirname(arg and arg[0] or "scripts/bench/x.lua"))
M.root = dirname(dirname(M.dir))

-- The lunet binary running this script (arg[-1]); $LUNET or build/lunet otherwise.
local env_lunet = os.getenv("LUNET")
M.lunet = env_lunet and absolute(env_lunet) or (arg and arg[-1] and absolute(arg[-1]))
  or (M.root .. "/build/lunet")

M.quick = os.getenv("BENCH_QUICK") == "1"
for _, a in ipairs(arg or {}) do if a == "--quick" then M.quick = true end end

-- reps(normal, quick): how many repeats this run does
function M.reps(n, q) return M.quick and q or n end

function M.shell_quote(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end

-- True when `import <mod>` works under Debian's python3; prints why a peer is skipped otherwise.
local has_cache = {}
function M.has_python(mod)
  if has_cache[mod] == nil then
    has_cache[mod] = os.execute(M.python .. " -c " .. M.shell_quote("import " .. mod)
                                .. " >/dev/null 2>&1") == true
  end
  return has_cache[mod]
end

-- lunet_s: Lunet's own number (a formatted string) for the table, if it was measured
function M.skip(what, mod, pkg, lunet_s)
  print(("SKIP %s: %s -c 'import %s' fails (install the Debian package %s)"):format(
    what, M.python, mod, pkg))
  M.emit(what, lunet_s, "skipped: " .. pkg .. " not installed", nil, "")
end

-- min and median of an array of numbers
function M.stats(xs)
  local s = {}
  for i, v in ipairs(xs) do s[i] = v end
  table.sort(s)
  local n = #s
  local med = n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
  return s[1], med
end

-- Times fn() `reps` times after `warmup` untimed calls; returns the array of seconds and
-- the last call's results packed. The warm-up also lasts STEADY_S from the start, past the
-- spell in which OpenBLAS's own threads spin after it loads (runtime/pool.c) and past the block
-- cache's first fills, so the times are steady-state ones, as the peers' are after their own
-- warm-up; whole-script benchmarks include start-up.
local STEADY_S = 0.3
local started = lunet.clock()
function M.time(fn, reps, warmup)
  local last
  for _ = 1, warmup or 0 do fn() end
  while lunet.clock() - started < STEADY_S do fn() end
  local ts = {}
  for i = 1, reps do
    collectgarbage("collect")
    local t0 = lunet.clock()
    last = table.pack(fn())
    ts[i] = lunet.clock() - t0
  end
  return ts, last
end

-- The sgemm rate a training step's products reach: shapes is a list of {M, K, N} (A[M,K] @ B[K,N],
-- each once a round, as a step runs them), timed through lunet.matmul `rounds` rounds at a time,
-- the best of `reps`. Returns GFLOP/s and the FLOPs of one round: an epoch's FLOPs over that rate
-- is the time the products alone would take, the limit a benchmark's epoch is compared with.
function M.sgemm_rate(shapes, rounds, reps)
  local mats, flops = {}, 0
  for k, s in ipairs(shapes) do
    mats[k] = {lunet.randn(s[1], s[2]), lunet.randn(s[2], s[3])}
    flops = flops + 2 * s[1] * s[2] * s[3]
  end
  local ts = M.time(function()
    for _ = 1, rounds do
      for k = 1, #mats do lunet.matmul(mats[k][1], mats[k][2]) end
    end
  end, reps, 1)
  return flops * rounds / M.stats(ts) / 1e9, flops
end

-- Runs `python3 <script> args…` from this folder. The script prints lines `key v1 v2 …`;
-- returns a table key -> array of numbers (or strings where not numbers), and its raw output.
function M.run_python(script, args)
  local cmd = M.python .. " " .. M.shell_quote(M.dir .. "/" .. script)
  for _, a in ipairs(args or {}) do cmd = cmd .. " " .. M.shell_quote(a) end
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  if not ok then error(("%s failed:\n%s"):format(cmd, out)) end
  local r = {}
  for line in out:gmatch("[^\n]+") do
    local key, rest = line:match("^(%S+)%s+(.*)$")
    if key then
      local vals = {}
      for w in rest:gmatch("%S+") do vals[#vals + 1] = tonumber(w) or w end
      r[key] = vals
    end
  end
  return r, out
end

-- Wall-clock seconds of a shell command run `reps` times (output discarded), after one warm-up.
function M.time_command(cmd, reps)
  local quiet = cmd .. " >/dev/null 2>&1"
  assert(os.execute(quiet), "command failed: " .. cmd)
  local ts = {}
  for i = 1, reps do
    local t0 = lunet.clock()
    local ok = os.execute(quiet)
    ts[i] = lunet.clock() - t0
    assert(ok, "command failed: " .. cmd)
  end
  return ts
end

-- Human-readable numbers
function M.fmt_time(s)
  if s == nil then return "-" end
  if s >= 1 then return ("%.3f s"):format(s) end
  if s >= 1e-3 then return ("%.2f ms"):format(s * 1e3) end
  if s >= 1e-6 then return ("%.2f µs"):format(s * 1e6) end
  return ("%.0f ns"):format(s * 1e9)
end

-- "min X / med Y" of a sample array formatted with f
function M.minmed(xs, f)
  f = f or M.fmt_time
  local mn, md = M.stats(xs)
  return ("min %s / med %s"):format(f(mn), f(md))
end

-- Ratio peer / lunet for min and median: "2.31× (med 2.25×)"
function M.ratio(lunet_xs, peer_xs)
  local lmin, lmed = M.stats(lunet_xs)
  local pmin, pmed = M.stats(peer_xs)
  return pmin / lmin, pmed / lmed
end

function M.fmt_ratio(rmin, rmed)
  if not rmin then return "-" end
  return ("%.2f× (med %.2f×)"):format(rmin, rmed)
end

-- One line for run_all. lunet / peer / ratio are already-formatted strings (or nil).
function M.emit(name, lunet_s, peer_s, ratio_s, target)
  print(("RESULT %s|%s|%s|%s|%s"):format(name, lunet_s or "-", peer_s or "-", ratio_s or "-",
                                         target or ""))
end

-- Reports one timed comparison: prints both sides and the ratio, and emits the RESULT line.
function M.compare(name, lunet_xs, peer_xs, peer_name, target, f)
  local rmin, rmed = M.ratio(lunet_xs, peer_xs)
  print(("%-28s Lunet %s   %s %s   ratio %s/Lunet %s"):format(
    name, M.minmed(lunet_xs, f), peer_name, M.minmed(peer_xs, f), peer_name,
    M.fmt_ratio(rmin, rmed)))
  local lmin = M.stats(lunet_xs)
  local pmin = M.stats(peer_xs)
  M.emit(name, (f or M.fmt_time)(lmin), peer_name .. " " .. (f or M.fmt_time)(pmin),
         M.fmt_ratio(rmin, rmed), target)
end

function M.header(title)
  local info = lunet.blas_info()
  print(("== %s  (lunet %s, BLAS %s %s core %s, %d threads%s)"):format(
    title, M.lunet, info.library, info.version, info.core, info.threads,
    M.quick and ", quick" or ""))
end

return M
