--[[
tests/fuzz/lua_surface.lua — fuzzes Lunet's Lua surface: random calls of every public function
with hostile arguments. Errors are expected and ignored; what it finds are crashes (sanitizer
reports, segfaults, aborts), so it is meant to run under the ASan+UBSan build.

  lunet tests/fuzz/lua_surface.lua [--seed N] [--seconds S] [--iters N] [--dir DIR] [--trace FILE]

  --seed N      the random seed (default: $LUNET_FUZZ_SEED, else from the clock); printed
  --seconds S   stop after S seconds (default 10)
  --iters N     stop after N calls (default: no limit)
  --dir DIR     scratch directory for the file functions (save, load, read_csv, plots, ...)
                (default: a fresh one under /tmp); run from a scratch working directory too, as
                a function not known to take a path may still write a file named by a string
  --trace FILE  before each call, append it to FILE as a line of Lua and flush. FILE is itself
                a script (`lunet FILE`) that rebuilds the current pool of values and replays
                every call since, so after a crash its last line is the culprit and the file
                is its reproducer (minus collector timing)

The functions are found by walking the module tables (lunet, lunet.nn, lunet.optim, lunet.data,
...) and the metatables of sample objects (tensors, modules, optimizers, schedulers, ...), so a
new function is fuzzed without being listed here. A call is described by Lua source throughout:
every argument is made by evaluating an expression, which is also what the trace records.
]]

local lunet = require "lunet"
local clock = lunet.clock

-- ---- options --------------------------------------------------------------------------------

local opt = {seconds = 10, seed = tonumber(os.getenv("LUNET_FUZZ_SEED") or "")}
do
  local i = 1
  while i <= #arg do
    local k, v = arg[i], arg[i + 1]
    if k == "--seed" then opt.seed = math.tointeger(tonumber(v)); i = i + 2
    elseif k == "--seconds" then opt.seconds = tonumber(v); i = i + 2
    elseif k == "--iters" then opt.iters = math.tointeger(tonumber(v)); i = i + 2
    elseif k == "--dir" then opt.dir = v; i = i + 2
    elseif k == "--trace" then opt.trace = v; i = i + 2
    else error("lua_surface: unknown argument " .. tostring(k)) end
  end
end
opt.seed = opt.seed or math.floor(clock() * 1e6) % 1000000007
if not opt.dir then
  opt.dir = os.tmpname()                  -- a fresh name; the file it creates becomes a dir
  os.remove(opt.dir)
end
assert(not opt.dir:find("[%s'\"\\]"), "lua_surface: --dir must be a plain path")
os.execute("mkdir -p '" .. opt.dir .. "'")
io.stderr:write(string.format("lua_surface: seed %d, %gs%s, scratch dir %s%s\n", opt.seed,
  opt.seconds, opt.iters and (", at most " .. opt.iters .. " calls") or "", opt.dir,
  opt.trace and (", trace " .. opt.trace) or ""))
math.randomseed(opt.seed)
local rnd = math.random

-- ---- known crashes, skipped until fixed -------------------------------------------------------
-- Each entry: a Lua pattern matched against the target's path, and a predicate on the argument
-- values, their count, the function's name and whether it is written in Lua (Lua code passes its
-- arguments on, so its calls are skipped by what they carry). Remove an entry once its crash is
-- fixed; the crash's reproducer is in its KNOWN comment.

local KNOWN = {
  -- (none open: the int64 overflows, totable and softmax of a huge empty tensor, view/reshape
  -- with wrapping sizes, narrow's start + length and t[math.mininteger] were fixed)
}

local function known(target, vals, n)
  local path = target.path
  local name = path:match("[%w_]+$") or path:match('%["([^"]*)"%]$') or ""
  local lua = debug.getinfo(target.fn, "S").what ~= "C"
  for _, k in ipairs(KNOWN) do
    if path:find(k.target) and k.when(vals, n, name, lua) then return k end
  end
end

-- ---- the pool of values, as Lua source -------------------------------------------------------

-- a table nested n deep: {{{...}}}
local function deep(n)
  local t = {}
  for _ = 2, n do t = {t} end
  return t
end

local D = opt.dir
-- Objects, built once per pool generation in this order (later ones may use earlier ones). A
-- constructor that fails leaves its entry out. kind: what the object is, to pick a method's self.
local OBJECTS = {
  {"f32", "tensor", "lunet.randn(2, 3)"},
  {"f64", "tensor", "lunet.tensor({1.5, -2, 0.25}, {dtype = 'float64'})"},
  {"i64", "tensor", "lunet.tensor({1, 2, 3, 1}, {dtype = 'int64'})"},
  {"s0", "tensor", "lunet.tensor(3.5)"},
  {"s0i", "tensor", "lunet.tensor(2, {dtype = 'int64'})"},
  {"s0d", "tensor", "lunet.tensor(-1, {dtype = 'float64'})"},
  {"e0", "tensor", "lunet.zeros(0)"},
  {"e03", "tensor", "lunet.zeros(0, 3, {dtype = 'int64'})"},
  {"ehuge", "tensor", "lunet.zeros(1 << 40, 0)"},
  {"col", "tensor", "lunet.randn(3, 1)"},
  {"f32_234", "tensor", "lunet.randn(2, 3, 4)"},
  {"f64_22", "tensor", "lunet.randn(2, 2, {dtype = 'float64'})"},
  {"i64_23", "tensor", "lunet.randint(1, 4, {2, 3})"},
  {"expanded", "tensor", "P.col:expand(3, 4)"},
  {"expanded0", "tensor", "P.s0:expand(2, 3)"},
  {"transposed", "tensor", "P.f32:t()"},
  {"narrowed", "tensor", "P.f32:narrow(2, 2, 2)"},
  {"selected", "tensor", "P.f32_234:select(2, 3)"},
  {"permuted", "tensor", "P.f32_234:permute(3, 1, 2)"},
  {"unsq", "tensor", "P.f64:unsqueeze(1)"},
  {"labels", "tensor", "lunet.tensor({1, 2, 1}, {dtype = 'int64'})"},
  {"probs", "tensor", "lunet.tensor({{0.2, 0.8}, {0.5, 0.5}, {1, 0}})"},
  {"nonfinite", "tensor", "lunet.tensor({0/0, 1/0, -1/0})"},
  {"extremes", "tensor", "lunet.tensor({math.maxinteger, math.mininteger, 0}, {dtype = 'int64'})"},
  {"leaf", "tensor", "lunet.randn(2, 3, {requires_grad = true})"},
  {"leaf64", "tensor", "lunet.randn(3, {dtype = 'float64', requires_grad = true})"},
  {"nonleaf", "tensor", "P.leaf * 2 + 1"},
  {"loss", "tensor", "(P.leaf * P.leaf):sum()"},
  {"leafview", "tensor", "P.leaf:narrow(1, 1, 1)"},
  {"closed", "tensor", "(function() local t = lunet.ones(2); t:close(); return t end)()"},
  {"lin", "module", "lunet.nn.Linear(3, 2)"},
  {"lin64", "module", "lunet.nn.Linear(2, 2, {dtype = 'float64', bias = false})"},
  {"relu", "module", "lunet.nn.ReLU()"},
  {"drop", "module", "lunet.nn.Dropout(0.5)"},
  {"smax", "module", "lunet.nn.LogSoftmax(2)"},
  {"flat", "module", "lunet.nn.Flatten()"},
  {"seq", "module", "lunet.nn.Sequential(lunet.nn.Linear(3, 4), lunet.nn.ReLU(), lunet.nn.Linear(4, 2))"},
  {"lmod", "module", [[(function()
    local Net = lunet.nn.Module("FuzzNet")
    function Net:init() self.fc = lunet.nn.Linear(3, 2); self.scale = lunet.nn.Parameter(lunet.ones(1)) end
    function Net:forward(x) return self.fc(x) * self.scale end
    return Net() end)()]]},
  {"crit", "module", "lunet.nn.CrossEntropyLoss()"},
  {"sgd", "optim", "lunet.optim.SGD(P.lin:parameters(), {lr = 0.1, momentum = 0.9, nesterov = true})"},
  {"adam", "optim", "lunet.optim.Adam(P.seq:parameters(), {lr = 0.01, weight_decay = 0.1})"},
  {"adamw", "optim", "lunet.optim.AdamW({P.leaf, P.leaf64})"},
  {"step", "sched", "lunet.optim.StepLR(P.sgd, {step_size = 1, gamma = 0.5})"},
  {"plateau", "sched", "lunet.optim.ReduceLROnPlateau(P.adam, {factor = 0.5, patience = 1})"},
  {"cosine", "sched", "lunet.optim.CosineAnnealingLR(P.adamw, {T_max = 3})"},
  {"gen", "generator", "lunet.Generator(7)"},
  {"defgen", "generator", "lunet.default_generator"},
  {"scaler", "data", "lunet.data.StandardScaler()"},
  {"minmax", "data", "lunet.data.MinMaxScaler():fit(lunet.randn(4, 3))"},
  {"encoder", "data", "lunet.data.LabelEncoder():fit({'b', 'a', 'b'})"},
  {"clf", "estimator", "lunet.MLPClassifier{hidden_layer_sizes = {3}, max_iter = 2, random_state = 1}"},
  {"reg", "estimator", "lunet.MLPRegressor{hidden_layer_sizes = {2}, max_iter = 2, solver = 'lbfgs'}"},
  {"bar", "progress", "lunet.progress.new(3, {enabled = false})"},
  {"report", "report", "lunet.profile(function() return lunet.ones(2) + 1 end)"},
}

-- Plain values: each use evaluates its expression again, so a callee that mutates a table
-- cannot spoil the next call.
local NUMBERS = {
  "0", "1", "2", "3", "-1", "-2", "1 << 40", "-(1 << 40)", "1 << 62", "-(1 << 62)", "1 << 31",
  "math.maxinteger", "math.mininteger", "math.maxinteger - 1", "0/0", "math.huge", "-math.huge",
  "1.5", "-0.0", "0.5", "1e300", "-1e-300", "2^53", "2^63", "-2^63", "4294967296.0",
}
local SMALL = {"0", "1", "2", "3", "-1", "2", "1", "0.5"}   -- plausible sizes, dims, indices
local STRINGS = {
  "'float32'", "'float64'", "'int64'", "'int32'", "'bool'", "''", "'x\\0y'", "string.rep('A', 4096)",
  "'mean'", "'sum'", "'none'", "'relu'", "'tanh'", "'logistic'", "'sgd'", "'adam'", "'lbfgs'",
  "'1'", "'-1'", "'nan'", "'%s%n%s'", "'weight'", "'0.weight'", "'train'", "'test'", "'grad'",
}
local TABLES = {
  "{}", "{2, 3}", "{3, 2}", "{-1}", "{0}", "{1 << 40, 1 << 40}", "{math.maxinteger}",
  "{math.mininteger}", "{1, 2, 3}", "{2, -1}", "{0/0}", "{1.5, 2.5}", "{{1, 2}, {3}}",
  "{{1, 2}, {3, 4}}", "{{{}}}", "{'a', 'b'}", "{1, nil, 3}", "{[0] = 1}", "{n = math.maxinteger}",
  "{P.f32, P.f32}", "{P.f32, P.i64}", "{P.e0, P.f32}", "{P.leaf, P.f32}", "{P.closed}",
  "{P.f32_234, P.f32_234}", "{P.lin, P.relu}", "{P.labels, P.labels}",
  "{{params = {P.leaf}, lr = 0.1}}", "{params = {P.leaf}}", "{lr = 0/0, momentum = -1}",
  "{weight = P.f32, bias = P.e0}", "{['0.weight'] = P.f32}",
  "deep(300)", "deep(20000)",
  "(function() local t = {} t[1] = t return t end)()",
  "setmetatable({}, {__index = function() error('trap') end, __len = function() return math.maxinteger end})",
  "setmetatable({1, 2}, {__len = function() return 1 << 40 end})",
}
local FUNCTIONS = {
  "function() end", "function(...) return ... end", "function() error('boom') end",
  "function(t) if lunet.is_tensor(t) then t:close() end end", "function() collectgarbage() end",
  "function() return lunet.zeros(2) end",
  "function(x) return x * 2 end",
  "function(...) return P.leaf:sum() end",
}
local MISC = {"nil", "true", "false", "coroutine.create(function() end)", "io.stderr"}
-- option tables: keys the surface reads, values from the hostile pool
local OPTKEYS = {
  "dtype", "requires_grad", "generator", "reduction", "bias", "lr", "momentum", "nesterov",
  "betas", "eps", "weight_decay", "step_size", "gamma", "T_max", "factor", "patience", "batch_size",
  "shuffle", "drop_last", "random_state", "test_size", "train_size", "stratify", "header",
  "delimiter", "digits", "hidden_layer_sizes", "activation", "solver", "alpha", "max_iter",
  "learning_rate", "tol", "n_iter_no_change", "early_stopping", "validation_fraction", "keepdim",
  "dim", "ignore_index", "label_smoothing", "weight", "gain", "mode", "nonlinearity", "eta_min",
  "centered", "amsgrad", "eps_inside", "labels", "zero_division", "normalize", "width", "title",
}
-- paths for the functions that take one: all inside the scratch directory
local PATHS = {
  "D .. '/a.safetensors'", "D .. '/b.csv'", "D .. '/c.idx'", "D .. '/missing'", "D",
  "D .. '/garbage.bin'", "D .. '/d.svg'", "D .. '/e.csv.gz'", "D .. '/a.safetensors'",
}
do -- a few files to read back
  local function put(name, s) local f = assert(io.open(D .. "/" .. name, "wb")); f:write(s); f:close() end
  put("b.csv", "a,b,c\n1,2,3\n4,nan,6\n7,8\n,,\n1e999,-1e999,0x10\n")
  put("garbage.bin", "\0\0\0\8\0\0\0\0" .. string.rep("\255", 64))
  put("c.idx", "\0\0\8\2\0\0\0\2\0\0\0\3" .. "\1\2\3\4\5\6")
  put("e.csv.gz", "\31\139\8\0\0\0\0\0\0\3garbage")
end

-- ---- compiling the pool ---------------------------------------------------------------------

local P = {}
local env = setmetatable({lunet = lunet, P = P, D = D, deep = deep}, {__index = _G})
local compiled = {}
local function maker(src)           -- src -> a function returning a fresh value
  local f = compiled[src]
  if not f then
    f = assert(load("return " .. src, "=" .. src:sub(1, 40), "t", env))
    compiled[src] = f
  end
  return f
end

local trace
local PRELUDE = [[
-- lunet Lua-surface fuzz trace (tests/fuzz/lua_surface.lua), seed %d, pool %d: lunet <this file>
local lunet = require "lunet"
local D = %q
local function deep(n) local t = {} for _ = 2, n do t = {t} end return t end
local function c(f, ...) return pcall(f, ...) end
local function keep(old, ok, v) if ok and v ~= nil then return v end return old end
lunet.manual_seed(%d)
local P = {}
]]

local by_kind = {}           -- kind -> list of pool names
local NRESULTS = 8         -- slots P.r1.. for results of earlier calls, used as arguments
local results = {}        -- names of the filled slots

local generation = 0
local function build_pool()
  generation = generation + 1
  for k in pairs(P) do P[k] = nil end
  results = {}
  collectgarbage()
  local seed = rnd(0, 1 << 30)
  lunet.manual_seed(seed)
  -- the fuzzed calls may leave grad mode off or odd thread counts; start each pool clean
  lunet.set_grad_enabled(true)
  lunet.set_num_threads(1 + rnd(0, 1))
  if trace then trace:close() end
  if opt.trace then
    trace = assert(io.open(opt.trace, "w"))
    trace:write(string.format(PRELUDE, opt.seed, generation, D, seed))
    trace:write(string.format("lunet.set_num_threads(%d)\n", lunet.get_num_threads()))
  end
  by_kind = {}
  for _, o in ipairs(OBJECTS) do
    local name, kind, src = o[1], o[2], o[3]
    if trace then
      trace:write(string.format("P.%s = select(2, pcall(function() return %s end))\n", name, src))
    end
    local ok, v = pcall(maker(src))
    if ok and v ~= nil then
      P[name] = v
      by_kind[kind] = by_kind[kind] or {}
      table.insert(by_kind[kind], name)
    else
      P[name] = nil
    end
  end
  if trace then trace:flush() end
end

-- ---- discovering the targets ------------------------------------------------------------------

local targets = {}           -- {path = Lua expression, fn = function, kind = self's kind or nil, file = bool}
local by_fn = {}

local KEYWORDS = {}   -- names that cannot follow a dot (t["repeat"] is a method)
for w in ("and break do else elseif end false for function goto if in local nil not or repeat return "
          .. "then true until while"):gmatch("%a+") do KEYWORDS[w] = true end
local function isident(k) return type(k) == "string" and k:match("^[%a_][%w_]*$") and not KEYWORDS[k] end
local function sub(path, k)
  if isident(k) then return path .. "." .. k end
  return path .. "[" .. string.format("%q", k) .. "]"
end

-- Functions that take a path get paths in the scratch dir for their string arguments.
local function takes_path(path)
  local name = path:match("[%w_]+$") or ""
  return path:find("plot") ~= nil or name:match("^save") ~= nil or name == "load"
      or name:match("_tensors$") ~= nil or name:match("^read_") ~= nil
      or name:match("fashion") ~= nil
end

-- walk(v, path, kind, depth, seen): every function reachable from v through string keys,
-- metatables and the table upvalues of C closures (the tensor's __index keeps its methods so).
-- A function met again keeps its first path and takes the kind of self if it had none.
local walk
local function add(path, fn, kind, seen)
  local t = by_fn[fn]
  if t then
    t.kind = t.kind or kind
  else
    t = {path = path, fn = fn, kind = kind, file = takes_path(path)}
    by_fn[fn] = t
    targets[#targets + 1] = t
  end
  if debug.getinfo(fn, "S").what == "C" then
    for i = 1, 255 do
      local n, v = debug.getupvalue(fn, i)
      if n == nil then break end
      if type(v) == "table" then
        walk(v, string.format("select(2, debug.getupvalue(%s, %d))", path, i), kind, 1, seen)
      end
    end
  end
end

function walk(v, path, kind, depth, seen)
  if depth > 6 then return end
  local tv = type(v)
  if tv == "function" then add(path, v, kind, seen); return end
  if tv ~= "table" and tv ~= "userdata" then return end
  if seen[v] then return end
  seen[v] = true
  if tv == "table" then
    local keys = {}
    for k in next, v do if type(k) == "string" then keys[#keys + 1] = k end end
    table.sort(keys)               -- deterministic order for a given seed
    for _, k in ipairs(keys) do walk(rawget(v, k), sub(path, k), kind, depth + 1, seen) end
  end
  local mt = getmetatable(v)
  if type(mt) == "table" then walk(mt, "getmetatable(" .. path .. ")", kind, depth + 1, seen) end
end

local function discover()
  -- submodules load on first use: touch them so the walk sees them
  for _, m in ipairs{"nn", "optim", "data", "metrics", "plot", "testing", "progress",
                     "MLPClassifier", "MLPRegressor"} do
    local _ = lunet[m]
  end
  walk(lunet, "lunet", nil, 0, {})
  local util_ok, util = pcall(require, "lunet.util")
  if util_ok and type(util) == "table" then walk(util, "require('lunet.util')", nil, 0, {}) end
  -- the objects' methods: what their metatables reach, with the object's kind for self
  for _, o in ipairs(OBJECTS) do
    local v = P[o[1]]
    if v ~= nil and getmetatable(v) ~= nil then
      walk(getmetatable(v), "getmetatable(P." .. o[1] .. ")", o[2], 0, {})
    end
  end
end

-- ---- one call ---------------------------------------------------------------------------------

local function pick(list) return list[rnd(1, #list)] end

local function optsrc()
  local parts = {}
  for _ = 1, rnd(1, 3) do
    local k, v = pick(OPTKEYS)
    local r = rnd(1, 10)
    if r <= 3 then v = pick(NUMBERS) elseif r <= 5 then v = pick(STRINGS)
    elseif r <= 6 then v = pick(TABLES) elseif r <= 7 then v = pick(MISC)
    elseif r <= 9 then v = pick(SMALL) else v = "P." .. pick(by_kind.tensor) end
    parts[#parts + 1] = k .. " = " .. v
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function argsrc(target, mild)
  local r = rnd(1, 100)
  if mild then    -- plausible arguments, to get past the type checks into the kernels
    if r <= 15 and #results > 0 then return "P." .. pick(results)
    elseif r <= 60 then return "P." .. pick(by_kind.tensor)
    elseif r <= 85 then return pick(SMALL)
    elseif r <= 93 then return pick(NUMBERS)
    else return optsrc() end
  end
  if r <= 10 and #results > 0 then return "P." .. pick(results)
  elseif r <= 33 then return "P." .. pick(by_kind.tensor)
  elseif r <= 45 then return pick(SMALL)
  elseif r <= 58 then return pick(NUMBERS)
  elseif r <= 66 then return pick(TABLES)
  elseif r <= 70 then return optsrc()
  elseif r <= 76 then return target.file and pick(PATHS) or pick(STRINGS)
  elseif r <= 84 then
    local kinds = {}
    for k in pairs(by_kind) do if k ~= "tensor" then kinds[#kinds + 1] = k end end
    table.sort(kinds)
    return "P." .. pick(by_kind[pick(kinds)])
  elseif r <= 88 then return pick(FUNCTIONS)
  elseif r <= 95 then return pick(MISC)
  else return target.path end       -- the function itself, in some other position
end

local stats = {calls = 0, ok = 0, err = 0, timeout = 0, skipped = 0}
local deadline_call = math.huge
local CALL_LIMIT = 2.0    -- seconds of Lua code per call before the hook stops it (a slow loop
                          -- in a Lua module given a huge count is a hang, not what we look for)
local timed_out = {}
local slow = {}

local function hook()
  if clock() > deadline_call then
    deadline_call = math.huge
    error("lua_surface: call exceeded " .. CALL_LIMIT .. " s", 0)
  end
end

local function call(target)
  local srcs = {}
  local n = rnd(0, 5)
  local first = 1
  if target.kind and by_kind[target.kind] and rnd(1, 10) <= 8 then
    srcs[1] = "P." .. pick(by_kind[target.kind])   -- usually the right kind of self
    first = 2
  elseif rnd(1, 10) <= 4 then
    srcs[1] = "P." .. pick(by_kind.tensor)         -- most functions take a tensor first
    first = 2
  end
  local mild = rnd(1, 10) <= 4
  for i = first, n do srcs[i] = argsrc(target, mild) end
  n = math.max(n, first - 1)
  if target.file and rnd(1, 2) == 1 then           -- a path first, as the file functions want
    table.insert(srcs, 1, pick(PATHS)); n = n + 1
  end
  local vals = {}
  for i = 1, n do
    local ok, v = pcall(maker(srcs[i]))
    if not ok then return end                      -- a pool entry whose constructor failed
    vals[i] = v
  end
  if known(target, vals, n) then stats.skipped = stats.skipped + 1; return end
  local slot = rnd(1, 3) == 1 and "r" .. rnd(1, NRESULTS) or nil   -- keep the first result?
  if trace then
    if slot then trace:write("P.", slot, " = keep(P.", slot, ", ") end
    trace:write("c(", target.path, n > 0 and ", " or "", table.concat(srcs, ", ", 1, n), ")",
                slot and ")\n" or "\n")
    trace:flush()
  end
  stats.calls = stats.calls + 1
  deadline_call = clock() + CALL_LIMIT
  local start = clock()
  local ok, msg = pcall(target.fn, table.unpack(vals, 1, n))
  deadline_call = math.huge
  if clock() - start > CALL_LIMIT then     -- slow in C, where the hook cannot stop it
    slow[#slow + 1] = string.format("%.1fs %s(%s)", clock() - start, target.path,
                                    table.concat(srcs, ", ", 1, n))
  end
  if ok and slot and msg ~= nil then
    if P[slot] == nil then results[#results + 1] = slot end
    P[slot] = msg
  end
  if ok then stats.ok = stats.ok + 1
  elseif type(msg) == "string" and msg:find("lua_surface: call exceeded", 1, true) then
    stats.timeout = stats.timeout + 1
    timed_out[target.path] = (timed_out[target.path] or 0) + 1
  else stats.err = stats.err + 1 end
end

-- ---- main loop --------------------------------------------------------------------------------

build_pool()
discover()
table.sort(targets, function(a, b) return a.path < b.path end)
io.stderr:write(string.format("lua_surface: %d functions to fuzz\n", #targets))

local POOL_CALLS = 300     -- calls per pool generation: closed and mutated values get replaced
local t0 = clock()
local stop = t0 + opt.seconds
debug.sethook(hook, "", 1000)
local i = 0
while clock() < stop and (not opt.iters or i < opt.iters) do
  i = i + 1
  if i % POOL_CALLS == 0 then
    debug.sethook()
    build_pool()
    debug.sethook(hook, "", 1000)
  end
  call(targets[rnd(1, #targets)])
end
debug.sethook()
for k in pairs(P) do P[k] = nil end
collectgarbage()
collectgarbage()
if trace then trace:close() end

io.stderr:write(string.format(
  "lua_surface: seed %d: %d calls in %.1fs (%d returned, %d raised errors, %d hit the %gs limit, "
  .. "%d skipped as known crashes), %d pools\n", opt.seed, stats.calls, clock() - t0, stats.ok,
  stats.err, stats.timeout, CALL_LIMIT, stats.skipped, generation))
local stopped = {}
for p in pairs(timed_out) do stopped[#stopped + 1] = p end
table.sort(stopped)
if #stopped > 0 then
  io.stderr:write("lua_surface: calls stopped by the limit in ", table.concat(stopped, ", "), "\n")
end
for _, s in ipairs(slow) do io.stderr:write("lua_surface: slow call: ", s, "\n") end
