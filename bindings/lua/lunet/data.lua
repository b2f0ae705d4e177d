-- lunet/data.lua: data sets, splits, scalers, label encoding and minibatches (lunet.data).
--
--   local data = require "lunet.data"
--   local X, y = data.load_digits()                         -- 1797x64 float32, int64 0..9
--   local Xtr, Xte, ytr, yte = data.train_test_split(X, y, {test_size = 0.2, random_state = 0,
--                                                           stratify = y})
--   local sc = data.StandardScaler(); Xtr = sc:fit_transform(Xtr); Xte = sc:transform(Xte)
--   for xb, yb in data.batches(Xtr, ytr, {batch_size = 64, shuffle = true, random_state = 1}) do … end
--
-- Semantics follow scikit-learn 1.2 (train_test_split row counts and stratified allocation,
-- StandardScaler's population std and constant-feature rule, MinMaxScaler, LabelEncoder), with
-- Lua's 1-based class ids where a class id is produced (LabelEncoder.transform, one_hot).
-- Random choices come from data.RandomState, NumPy's legacy generator (numpy.random.RandomState,
-- MT19937), drawn in scikit-learn's order: the same random_state gives the same rows as
-- scikit-learn 1.2.1 (ShuffleSplit, StratifiedShuffleSplit). random_state may be an integer seed or
-- a RandomState whose stream goes on; without one, a RandomState is seeded from opts.generator
-- or the default generator (lunet.manual_seed).

local lunet = require "lunet"
local util = require "lunet.util"
local checkopts, shapestr, raise = util.checkopts, util.shapestr, util.raise
local io, math, table, string, package, debug = io, math, table, string, package, debug
local error, type, pairs, ipairs, tostring, setmetatable, getmetatable, next =
  error, type, pairs, ipairs, tostring, setmetatable, getmetatable, next
local _io = lunet._io
local M = {}
_ENV = nil

---------------------------------------------------------------------------------------------------
-- helpers

local istensor = lunet.is_tensor



local function checkbool(fname, name, v, default)
  if v == nil then return default end
  if type(v) ~= "boolean" then
    raise(fname .. ": " .. name .. " must be a boolean, got " .. type(v))
  end
  return v
end

local RandomState = lunet._RandomState

-- data.RandomState(seed): NumPy's np.random.RandomState(seed), seed in 0..2^32-1.
M.RandomState = RandomState

local function is_randomstate(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return type(mt) == "table" and mt.__name == "lunet.RandomState"
end
M._is_randomstate = is_randomstate

-- scikit-learn's check_random_state with Lunet's seeding for "none given": an integer seeds a
-- new RandomState, a RandomState is used as is (its stream goes on), nil draws a seed from gen
-- (a lunet.Generator) or from the default generator.
function M._check_random_state(fname, rs, gen, level)
  level = (level or 2) + 1
  if rs == nil then
    gen = gen or lunet.default_generator
    local mt = type(gen) == "userdata" and getmetatable(gen)
    if type(mt) ~= "table" or mt.__name ~= "lunet.Generator" then
      raise(fname .. ": generator must be a lunet.Generator, got " .. type(gen), level)
    end
    return RandomState(gen:random(0, 0xffffffff))
  end
  if is_randomstate(rs) then return rs end
  if math.type(rs) ~= "integer" or rs < 0 or rs > 0xffffffff then
    raise(fname .. ": random_state must be an integer in [0, 2^32 - 1] or a RandomState, got "
      .. tostring(rs), level)
  end
  return RandomState(rs)
end

-- The RandomState for opts.random_state / opts.generator.
local function generator(fname, opts)
  if opts.generator ~= nil and opts.random_state ~= nil then
    raise(fname .. ": give random_state or generator, not both")
  end
  return M._check_random_state(fname, opts.random_state, opts.generator, 2)
end

-- A random permutation of 1..n as a Lua array (NumPy's permutation(n) plus one).
local function perm(n, rs)
  return rs:permutation(n)
end

-- true if a float tensor holds a NaN (one cheap sum; the exact test only if that is NaN)
local function has_nan(t)
  if t:dtype() == "int64" or t:numel() == 0 then return false end
  local s = t:sum():item()
  if s == s then return false end
  return t:ne(t):sum():item() > 0
end

-- Number of rows of a tensor or Lua array.
local function nrows(fname, name, v)
  if istensor(v) then
    if v:dim() == 0 then raise(fname .. ": " .. name .. " must have at least one dim") end
    return v:size(1)
  elseif type(v) == "table" then
    return #v
  end
  raise(fname .. ": " .. name .. " must be a tensor or a Lua array, got " .. type(v))
end

-- Rows idx (a Lua array of 1-based indices) of a tensor or a Lua array.
local function take(v, idx)
  if istensor(v) then return v:index_select(1, idx) end
  local r = {}
  for i, k in ipairs(idx) do r[i] = v[k] end
  return r
end

-- A label vector (tensor or Lua array) as a Lua array of numbers or strings.
local function labels(fname, name, y)
  if istensor(y) then
    if y:dim() ~= 1 then
      raise(fname .. ": " .. name .. " must be 1-D, got shape " .. shapestr(y))
    end
    local t = y:totable()
    if y:dtype() ~= "int64" then
      for i = 1, #t do
        if t[i] ~= t[i] then raise(fname .. ": " .. name .. " contains NaN") end
      end
    end
    return t
  elseif type(y) == "table" then
    local kind
    for i = 1, #y do
      local v, ty = y[i], type(y[i])
      if ty ~= "number" and ty ~= "string" then
        raise(fname .. ": " .. name .. "[" .. i .. "] is a " .. ty .. ", not a label")
      end
      if v ~= v then raise(fname .. ": " .. name .. " contains NaN") end
      if kind and ty ~= kind then raise(fname .. ": " .. name .. " mixes numbers and strings") end
      kind = ty
    end
    return y
  end
  raise(fname .. ": " .. name .. " must be a tensor or a Lua array, got " .. type(y))
end

-- Sorted distinct values of a Lua array.
local function unique(t)
  local seen, u = {}, {}
  for _, v in ipairs(t) do
    if not seen[v] then seen[v] = true; u[#u + 1] = v end
  end
  table.sort(u)
  return u
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

---------------------------------------------------------------------------------------------------
-- files

-- data.read_csv(path [, {header = false, delimiter = ",", dtype = "float32"}]) -> t [, names]
function M.read_csv(path, opts)
  if type(path) ~= "string" then raise("read_csv: path must be a string, got " .. type(path)) end
  opts = checkopts("read_csv", opts, {"header", "delimiter", "dtype"})
  local header = checkbool("read_csv", "header", opts.header, false)
  local t, names = _io.read_csv(path, header, opts.delimiter or ",", opts.dtype or "float32")
  if t == nil then raise(names) end
  return t, names
end

-- data.read_idx(path [, {dtype = "float32"}]) -> a tensor shaped as the file's header says
function M.read_idx(path, opts)
  if type(path) ~= "string" then raise("read_idx: path must be a string, got " .. type(path)) end
  opts = checkopts("read_idx", opts, {"dtype"})
  local t, msg = _io.read_idx(path, opts.dtype or "float32")
  if t == nil then raise(msg) end
  return t
end

-- data.read_text(path) -> the file's contents as a Lua string (".gz" decompressed)
function M.read_text(path)
  if type(path) ~= "string" then raise("read_text: path must be a string, got " .. type(path)) end
  local s, msg = _io.read_text(path)
  if s == nil then raise(msg) end
  return s
end

---------------------------------------------------------------------------------------------------
-- data sets

-- Directories that may hold Lunet's shipped data, most specific first.
local function data_dirs()
  local dirs = {}
  local cfg = package.loaded["lunet.config"]
  if type(cfg) == "table" and type(cfg.data_dir) == "string" then dirs[#dirs + 1] = cfg.data_dir end
  -- this file is <root>/bindings/lua/lunet/data.lua in a source tree and
  -- <prefix>/share/lua/5.4/lunet/data.lua once installed (data in <prefix>/share/lunet)
  local here = {}
  local src = debug.getinfo(1, "S").source
  if src:sub(1, 1) == "@" then here[#here + 1] = src:sub(2):match("^(.*)[/\\][^/\\]*$") end
  for tmpl in package.path:gmatch("[^;]+") do
    local f = tmpl:gsub("%?", "lunet/data")
    if exists(f) then here[#here + 1] = f:match("^(.*)[/\\][^/\\]*$") end
  end
  for _, d in ipairs(here) do
    dirs[#dirs + 1] = d .. "/data"   -- a luarocks tree keeps the data beside the modules
    dirs[#dirs + 1] = d .. "/../../../data"
    dirs[#dirs + 1] = d .. "/../../../lunet"
  end
  return dirs
end

-- data.load_digits() -> X (1797x64 float32, 0..16), y (int64 0..9)
function M.load_digits()
  local dirs = data_dirs()
  for _, d in ipairs(dirs) do
    local path = d .. "/digits.csv.gz"
    if exists(path) then
      local t = M.read_csv(path, {dtype = "float32"})
      if t:dim() ~= 2 or t:size(2) ~= 65 then
        raise("load_digits: " .. path .. " has shape " .. shapestr(t) .. ", expected [1797, 65]")
      end
      return t:narrow(2, 1, 64):contiguous(), t:select(2, 65):to("int64")
    end
  end
  raise("load_digits: digits.csv.gz not found (looked in " .. table.concat(dirs, ", ") .. ")")
end

-- data.load_tinyshakespeare() -> char-rnn's corpus (1,115,394 characters) as a Lua string
function M.load_tinyshakespeare()
  local dirs = data_dirs()
  for _, d in ipairs(dirs) do
    local path = d .. "/tinyshakespeare.txt.gz"
    if exists(path) then return M.read_text(path) end
  end
  raise("load_tinyshakespeare: tinyshakespeare.txt.gz not found (looked in " ..
        table.concat(dirs, ", ") .. ")")
end

-- data.load_fashion_mnist(split [, dir]) -> X (Nx784 float32 in [0, 1]), y (int64 0..9)
function M.load_fashion_mnist(split, dir)
  local prefix = ({train = "train", test = "t10k"})[split]
  if prefix == nil then
    raise("load_fashion_mnist: split must be \"train\" or \"test\", got " .. tostring(split))
  end
  if dir ~= nil and type(dir) ~= "string" then
    raise("load_fashion_mnist: dir must be a string, got " .. type(dir))
  end
  dir = dir or "/usr/share/datasets/fashion-mnist"
  local function find(name)
    for _, p in ipairs{dir .. "/" .. name .. ".gz", dir .. "/" .. name} do
      if exists(p) then return p end
    end
    raise("load_fashion_mnist: " .. dir .. "/" .. name .. ".gz not found: install the Debian "
      .. "package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass the "
      .. "directory that holds the IDX files")
  end
  local ximg, ylab = find(prefix .. "-images-idx3-ubyte"), find(prefix .. "-labels-idx1-ubyte")
  local X = M.read_idx(ximg, {dtype = "float32"})
  local y = M.read_idx(ylab, {dtype = "int64"})
  if X:dim() ~= 3 or y:dim() ~= 1 or X:size(1) ~= y:size(1) then
    raise("load_fashion_mnist: " .. ximg .. " " .. shapestr(X) .. " and " .. ylab .. " "
      .. shapestr(y) .. " do not match")
  end
  local n = X:size(1)
  return X:view(n, X:size(2) * X:size(3)):div_(255), y
end

---------------------------------------------------------------------------------------------------
-- train_test_split

-- n_test, n_train as scikit-learn's _validate_shuffle_split.
local function split_sizes(n, test_size, train_size)
  local function check(name, v)
    if v == nil then return end
    if math.type(v) == "integer" then
      if v <= 0 or v >= n then
        raise(("train_test_split: %s=%d should be either positive and smaller than the number "
          .. "of samples %d or a float in the (0, 1) range"):format(name, v, n))
      end
    elseif math.type(v) == "float" then
      if not (v > 0 and v < 1) then
        raise(("train_test_split: %s=%s should be either positive and smaller than the number "
          .. "of samples %d or a float in the (0, 1) range"):format(name, tostring(v), n))
      end
    else
      raise("train_test_split: " .. name .. " must be a number, got " .. type(v))
    end
  end
  check("test_size", test_size)
  check("train_size", train_size)
  if test_size == nil and train_size == nil then test_size = 0.25 end
  local n_test, n_train
  if math.type(test_size) == "float" then n_test = math.ceil(test_size * n)
  elseif test_size then n_test = test_size end
  if math.type(train_size) == "float" then n_train = math.floor(train_size * n)
  elseif train_size then n_train = train_size end
  n_train = n_train or n - n_test
  n_test = n_test or n - n_train
  if n_train + n_test > n then
    raise(("train_test_split: the sum of train_size and test_size = %d, should be smaller than "
      .. "the number of samples %d"):format(n_train + n_test, n))
  end
  if n_train == 0 then
    raise(("train_test_split: with n_samples=%d, test_size=%s and train_size=%s, the resulting "
      .. "train set will be empty"):format(n, tostring(test_size), tostring(train_size)))
  end
  return math.tointeger(n_test), math.tointeger(n_train)
end

-- scikit-learn's _approximate_mode: the allocation of n_draws over classes closest to the
-- class proportions, ties in the remainders broken at random.
local function approximate_mode(counts, n_draws, gen)
  local total = 0
  for _, c in ipairs(counts) do total = total + c end
  local cont, floored, need = {}, {}, n_draws
  for i, c in ipairs(counts) do
    cont[i] = c / total * n_draws
    floored[i] = math.floor(cont[i])
    need = need - floored[i]
  end
  if need > 0 then
    local rem, values, seen = {}, {}, {}
    for i = 1, #counts do
      rem[i] = cont[i] - floored[i]
      if not seen[rem[i]] then seen[rem[i]] = true; values[#values + 1] = rem[i] end
    end
    table.sort(values, function(a, b) return a > b end)
    for _, v in ipairs(values) do
      local inds = {}
      for i = 1, #counts do if rem[i] == v then inds[#inds + 1] = i end end
      local add = math.min(#inds, need)
      local p = perm(#inds, gen)
      for k = 1, add do
        local i = inds[p[k]]
        floored[i] = floored[i] + 1
      end
      need = need - add
      if need == 0 then break end
    end
  end
  return floored
end

-- StratifiedShuffleSplit's draw: train and test index arrays (1-based).
local function stratified(strat, n_train, n_test, gen)
  local classes = unique(strat)
  local id = {}
  for i, c in ipairs(classes) do id[c] = i end
  local members = {}
  for i = 1, #classes do members[i] = {} end
  for i, v in ipairs(strat) do local m = members[id[v]]; m[#m + 1] = i end
  local counts, least = {}, math.huge
  for i, m in ipairs(members) do counts[i] = #m; least = math.min(least, #m) end
  if least < 2 then
    raise("train_test_split: the least populated class in y has only 1 member, which is too few. "
      .. "The minimum number of groups for any class cannot be less than 2")
  end
  if n_train < #classes then
    raise(("train_test_split: the train_size = %d should be greater or equal to the number of "
      .. "classes = %d"):format(n_train, #classes))
  end
  if n_test < #classes then
    raise(("train_test_split: the test_size = %d should be greater or equal to the number of "
      .. "classes = %d"):format(n_test, #classes))
  end
  local n_i = approximate_mode(counts, n_train, gen)
  local left = {}
  for i, c in ipairs(counts) do left[i] = c - n_i[i] end
  local t_i = approximate_mode(left, n_test, gen)
  local train, test = {}, {}
  for i, m in ipairs(members) do
    local p = perm(#m, gen)
    for k = 1, n_i[i] do train[#train + 1] = m[p[k]] end
    for k = n_i[i] + 1, n_i[i] + t_i[i] do test[#test + 1] = m[p[k]] end
  end
  local function shuffled(t)
    local p, r = perm(#t, gen), {}
    for k = 1, #t do r[k] = t[p[k]] end
    return r
  end
  return shuffled(train), shuffled(test)
end

-- data.train_test_split(X [, y], {test_size = 0.25, train_size, random_state, shuffle = true,
--                                 stratify, generator}) -> Xtr, Xte [, ytr, yte]
function M.train_test_split(X, y, opts)
  local F = "train_test_split"
  if opts == nil and type(y) == "table" and not istensor(y) and (#y == 0 and next(y) ~= nil) then
    y, opts = nil, y                                       -- train_test_split(X, {opts})
  end
  opts = checkopts(F, opts,
    {"test_size", "train_size", "random_state", "shuffle", "stratify", "generator"})
  local n = nrows(F, "X", X)
  if y ~= nil then
    local ny = nrows(F, "y", y)
    if ny ~= n then raise(("%s: X has %d rows but y has %d"):format(F, n, ny)) end
  end
  if istensor(X) and has_nan(X) then raise(F .. ": X contains NaN") end
  if y ~= nil and istensor(y) and has_nan(y) then raise(F .. ": y contains NaN") end
  local shuffle = checkbool(F, "shuffle", opts.shuffle, true)
  local n_test, n_train = split_sizes(n, opts.test_size, opts.train_size)
  local gen = shuffle and generator(F, opts) or nil
  local train, test = {}, {}
  if opts.stratify ~= nil then
    if not shuffle then
      raise(F .. ": stratified train/test split is not implemented for shuffle=false")
    end
    local strat = labels(F, "stratify", opts.stratify)
    if #strat ~= n then
      raise(("%s: X has %d rows but stratify has %d"):format(F, n, #strat))
    end
    train, test = stratified(strat, n_train, n_test, gen)
  elseif shuffle then
    local p = perm(n, gen)
    for k = 1, n_test do test[k] = p[k] end
    for k = 1, n_train do train[k] = p[n_test + k] end
  else
    for k = 1, n_train do train[k] = k end
    for k = 1, n_test do test[k] = n_train + k end
  end
  if y == nil then return take(X, train), take(X, test) end
  return take(X, train), take(X, test), take(y, train), take(y, test)
end

---------------------------------------------------------------------------------------------------
-- scalers

-- Column statistics of a 2-D tensor in float64, in row chunks (no full-size float64 copy):
-- Lua arrays mean, var (population), min, max.
local function colstats(fname, X, want_minmax)
  if not istensor(X) then raise(fname .. ": X must be a tensor, got " .. type(X)) end
  if X:dim() ~= 2 then
    raise(fname .. ": X must be 2-D (samples x features), got shape " .. shapestr(X))
  end
  local n, f = X:size(1), X:size(2)
  if n == 0 then raise(fname .. ": X has 0 samples") end
  local CH = 8192
  local sum, lo, hi
  for i = 1, n, CH do
    local c = X:narrow(1, i, math.min(CH, n - i + 1)):double()
    local s = c:sum(1)
    sum = sum and sum + s or s
    if want_minmax then
      local a, b = c:min(1), c:max(1)
      lo = lo and lo:minimum(a) or a
      hi = hi and hi:maximum(b) or b
    end
  end
  local mean = sum / n
  local ss
  for i = 1, n, CH do
    local d = X:narrow(1, i, math.min(CH, n - i + 1)):double() - mean
    local s = (d * d):sum(1)
    ss = ss and ss + s or s
  end
  local m, v = mean:totable(), (ss / n):totable()
  for j = 1, f do
    if m[j] ~= m[j] or v[j] ~= v[j] then raise(fname .. ": X contains NaN") end
  end
  return m, v, lo and lo:totable(), hi and hi:totable(), n, f
end

local function check_fitted(self, fname, X)
  if self.n_features_in_ == nil then
    raise(self._name .. "." .. fname .. ": not fitted: call fit first")
  end
  if not istensor(X) then raise(self._name .. "." .. fname .. ": X must be a tensor") end
  if X:dim() ~= 2 or X:size(2) ~= self.n_features_in_ then
    raise(("%s.%s: X has shape %s, but %s is expecting %d features as input"):format(
      self._name, fname, shapestr(X), self._name, self.n_features_in_))
  end
  if has_nan(X) then raise(self._name .. "." .. fname .. ": X contains NaN") end
  -- the scaler's vectors in X's float dtype (an int64 X gives float32, as a float op would)
  local dt = X:dtype() == "int64" and "float32" or X:dtype()
  return X:to(dt), dt
end

local function f64(t) return lunet.tensor(t, {dtype = "float64"}) end

local StandardScaler = {}
StandardScaler.__index = StandardScaler

-- data.StandardScaler([{with_mean = true, with_std = true}]): z = (x - mean_) / scale_, scale_
-- the population std with 1 for constant features (scikit-learn's rule).
function M.StandardScaler(opts)
  opts = checkopts("StandardScaler", opts, {"with_mean", "with_std"})
  return setmetatable({
    _name = "StandardScaler",
    with_mean = checkbool("StandardScaler", "with_mean", opts.with_mean, true),
    with_std = checkbool("StandardScaler", "with_std", opts.with_std, true),
  }, StandardScaler)
end

function StandardScaler:fit(X)
  local m, v, _, _, n, f = colstats("StandardScaler.fit", X, false)
  local eps = 2.0 ^ -52
  local scale = {}
  for j = 1, f do
    -- constant feature: var within the rounding error of its computation (_is_constant_feature)
    local constant = v[j] <= n * eps * v[j] + (n * m[j] * eps) ^ 2
    scale[j] = constant and 1.0 or math.sqrt(v[j])
  end
  self.n_features_in_, self.n_samples_seen_ = f, n
  self.mean_ = self.with_mean and f64(m) or nil
  self.var_ = self.with_std and f64(v) or nil
  self.scale_ = self.with_std and f64(scale) or nil
  return self
end

function StandardScaler:transform(X)
  local Xf, dt = check_fitted(self, "transform", X)
  if self.mean_ then Xf = Xf - self.mean_:to(dt) end
  if self.scale_ then Xf = Xf / self.scale_:to(dt) end
  return Xf
end

function StandardScaler:inverse_transform(X)
  local Xf, dt = check_fitted(self, "inverse_transform", X)
  if self.scale_ then Xf = Xf * self.scale_:to(dt) end
  if self.mean_ then Xf = Xf + self.mean_:to(dt) end
  return Xf
end

function StandardScaler:fit_transform(X) return self:fit(X):transform(X) end

local MinMaxScaler = {}
MinMaxScaler.__index = MinMaxScaler

-- data.MinMaxScaler([{feature_range = {0, 1}, clip = false}]): x * scale_ + min_
function M.MinMaxScaler(opts)
  opts = checkopts("MinMaxScaler", opts, {"feature_range", "clip"})
  local fr = opts.feature_range or {0, 1}
  if type(fr) ~= "table" or type(fr[1]) ~= "number" or type(fr[2]) ~= "number"
      or not (fr[1] < fr[2]) then
    raise("MinMaxScaler: feature_range must be {min, max} with min < max")
  end
  return setmetatable({
    _name = "MinMaxScaler", feature_range = {fr[1], fr[2]},
    clip = checkbool("MinMaxScaler", "clip", opts.clip, false),
  }, MinMaxScaler)
end

function MinMaxScaler:fit(X)
  local _, _, lo, hi, n, f = colstats("MinMaxScaler.fit", X, true)
  local a, b = self.feature_range[1], self.feature_range[2]
  local range, scale, min = {}, {}, {}
  for j = 1, f do
    range[j] = hi[j] - lo[j]
    local r = range[j] < 10 * 2.0 ^ -52 and 1.0 or range[j]   -- _handle_zeros_in_scale
    scale[j] = (b - a) / r
    min[j] = a - lo[j] * scale[j]
  end
  self.n_features_in_, self.n_samples_seen_ = f, n
  self.data_min_, self.data_max_, self.data_range_ = f64(lo), f64(hi), f64(range)
  self.scale_, self.min_ = f64(scale), f64(min)
  return self
end

function MinMaxScaler:transform(X)
  local Xf, dt = check_fitted(self, "transform", X)
  Xf = Xf * self.scale_:to(dt) + self.min_:to(dt)
  if self.clip then Xf = Xf:clamp(self.feature_range[1], self.feature_range[2]) end
  return Xf
end

function MinMaxScaler:inverse_transform(X)
  local Xf, dt = check_fitted(self, "inverse_transform", X)
  return (Xf - self.min_:to(dt)) / self.scale_:to(dt)
end

function MinMaxScaler:fit_transform(X) return self:fit(X):transform(X) end

---------------------------------------------------------------------------------------------------
-- labels

local LabelEncoder = {}
LabelEncoder.__index = LabelEncoder

-- data.LabelEncoder(): classes_ (a sorted Lua array of the labels seen), transform (labels ->
-- int64 class ids 1..#classes_), inverse_transform (ids -> labels: a tensor of the fitted dtype
-- when fitted on a tensor, a Lua array when fitted on a Lua array).
function M.LabelEncoder()
  return setmetatable({}, LabelEncoder)
end

function LabelEncoder:fit(y)
  local t = labels("LabelEncoder.fit", "y", y)
  if #t == 0 then raise("LabelEncoder.fit: y is empty") end
  self.classes_ = unique(t)
  self._dtype = istensor(y) and y:dtype() or nil
  self._id = {}
  for i, c in ipairs(self.classes_) do self._id[c] = i end
  return self
end

local function unseen(fname, list)
  local u = unique(list)
  local s = {}
  for i = 1, math.min(#u, 10) do s[i] = tostring(u[i]) end
  raise(fname .. ": y contains previously unseen labels: {" .. table.concat(s, ", ")
    .. (#u > 10 and ", ..." or "") .. "}")
end

function LabelEncoder:transform(y)
  if not self.classes_ then raise("LabelEncoder.transform: not fitted: call fit first") end
  local t = labels("LabelEncoder.transform", "y", y)
  local ids, bad = {}, {}
  for i, v in ipairs(t) do
    ids[i] = self._id[v]
    if ids[i] == nil then bad[#bad + 1] = v end
  end
  if #bad > 0 then unseen("LabelEncoder.transform", bad) end
  if #ids == 0 then return lunet.zeros(0, {dtype = "int64"}) end
  return lunet.tensor(ids, {dtype = "int64"})
end

function LabelEncoder:fit_transform(y) return self:fit(y):transform(y) end

function LabelEncoder:inverse_transform(ids)
  if not self.classes_ then raise("LabelEncoder.inverse_transform: not fitted: call fit first") end
  local t = labels("LabelEncoder.inverse_transform", "ids", ids)
  local out, bad = {}, {}
  for i, k in ipairs(t) do
    out[i] = math.type(k) and self.classes_[math.tointeger(k) or 0] or nil
    if out[i] == nil then bad[#bad + 1] = k end
  end
  if #bad > 0 then unseen("LabelEncoder.inverse_transform", bad) end
  if self._dtype == nil then return out end
  if #out == 0 then return lunet.zeros(0, {dtype = self._dtype}) end
  return lunet.tensor(out, {dtype = self._dtype})
end

-- data.one_hot(ids, n_classes [, {dtype = "float32"}]): ids 1-based (int64 tensor or Lua array)
-- -> [N, n_classes]; n_classes defaults to the largest id.
function M.one_hot(ids, n, opts)
  opts = checkopts("one_hot", opts, {"dtype"})
  if type(ids) == "table" then
    for i, v in ipairs(ids) do
      if math.type(v) ~= "integer" and not (math.type(v) == "float" and v == math.floor(v)) then
        raise("one_hot: ids[" .. i .. "] = " .. tostring(v) .. " is not an integer class id")
      end
    end
    ids = lunet.tensor(ids, {dtype = "int64"})
  elseif not istensor(ids) then
    raise("one_hot: ids must be an int64 tensor or a Lua array, got " .. type(ids))
  end
  if ids:dtype() ~= "int64" then raise("one_hot: ids must be int64, got " .. ids:dtype()) end
  if ids:dim() ~= 1 then raise("one_hot: ids must be 1-D, got shape " .. shapestr(ids)) end
  local lo = ids:numel() > 0 and ids:min():item() or 1
  local hi = ids:numel() > 0 and ids:max():item() or 0
  if n == nil then n = hi end
  if math.type(n) ~= "integer" or n < 1 then
    raise("one_hot: n_classes must be a positive integer, got " .. tostring(n))
  end
  if lo < 1 or hi > n then
    raise(("one_hot: class id %d out of range 1..%d"):format(lo < 1 and lo or hi, n))
  end
  local eye = lunet.eye(n, {dtype = opts.dtype or "float32"})
  if ids:numel() == 0 then return lunet.zeros(0, n, {dtype = opts.dtype or "float32"}) end
  return eye:index_select(1, ids)
end

---------------------------------------------------------------------------------------------------
-- minibatches

-- shard = {rank, size} (lunet.distributed): this rank's rows of the epoch's order (the same
-- permutation on every rank: the same random_state): the positions rank, rank + size, … of it
-- (torch's DistributedSampler without its padding), so each row is in one shard once per epoch;
-- when size does not divide n, the first n % size ranks hold one row more.
local function shard_rows(F, shard, order, n)
  local r, size = type(shard) == "table" and shard[1], type(shard) == "table" and shard[2]
  if math.type(r) ~= "integer" or math.type(size) ~= "integer" or size < 1 or r < 1 or r > size then
    raise(F .. ": shard must be {rank, size} with 1 <= rank <= size, got " ..
      (type(shard) == "table" and ("{%s, %s}"):format(tostring(r), tostring(size)) or tostring(shard)))
  end
  local pos = lunet.arange(r, n + 1, size)
  local mine = order and order:index_select(1, pos) or pos
  return mine, mine:numel()
end

-- for xb, yb in data.batches(X [, y], {batch_size = 32, shuffle = false, random_state,
--                                      drop_last = false, generator, shard}) do … end
-- Without shuffling the batches are views (narrow); with it (or a shard), copies (index_select).
function M.batches(X, y, opts)
  local F = "batches"
  if opts == nil and type(y) == "table" and not istensor(y) and #y == 0 and next(y) ~= nil then
    y, opts = nil, y
  end
  opts = checkopts(F, opts, {"batch_size", "shuffle", "random_state", "drop_last", "generator",
                             "shard"})
  if not istensor(X) then raise(F .. ": X must be a tensor, got " .. type(X)) end
  local n = nrows(F, "X", X)
  if y ~= nil then
    if not istensor(y) then raise(F .. ": y must be a tensor, got " .. type(y)) end
    local ny = nrows(F, "y", y)
    if ny ~= n then raise(("%s: X has %d rows but y has %d"):format(F, n, ny)) end
  end
  local bs = opts.batch_size or 32
  if math.type(bs) ~= "integer" or bs < 1 then
    raise(F .. ": batch_size must be a positive integer, got " .. tostring(bs))
  end
  local shuffle = checkbool(F, "shuffle", opts.shuffle, false)
  local drop_last = checkbool(F, "drop_last", opts.drop_last, false)
  local gen = shuffle and generator(F, opts) or nil
  -- NumPy's permutation(n) (plus one), as sklearn.utils.shuffle orders rows
  local order = shuffle and n > 0 and gen:permutation(n, "int64") or nil
  if opts.shard ~= nil then order, n = shard_rows(F, opts.shard, order, n) end
  local start = 1
  return function()
    local len = math.min(bs, n - start + 1)
    if len <= 0 or (drop_last and len < bs) then return nil end
    local s = start
    start = start + len
    if order then
      local idx = order:narrow(1, s, len)
      return X:index_select(1, idx), y and y:index_select(1, idx)
    end
    return X:narrow(1, s, len), y and y:narrow(1, s, len)
  end
end

return M
