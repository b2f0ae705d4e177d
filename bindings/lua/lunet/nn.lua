-- lunet/nn.lua: layers, Lua-defined modules, losses and initializers, after torch.nn.
--
--   local nn = require "lunet.nn"
--   local Net = nn.Module("Net")
--   function Net:init(n_in, n_out)
--     self.fc = nn.Linear(n_in, n_out)          -- modules and nn.Parameter fields are
--     self.scale = nn.Parameter(lunet.ones(1))  -- registered in assignment order
--   end
--   function Net:forward(x) return self.fc(x) * self.scale end
--   local net = Net(3, 2)                       -- calls init; net(x) calls forward
--
-- Built-in layers (Linear, ReLU, …) are C userdata from lunet._nn; nn.Module classes and
-- nn.Sequential are Lua tables; both share the module methods (parameters, state_dict, …).
--
-- Parameter names are PyTorch's state_dict names, so files interoperate with PyTorch:
-- "fc.weight" for a field fc, and 0-based indices for Sequential children and any other
-- integer-keyed child: seq[1] (Lua's first) owns "0.weight", seq[2] owns "1.weight".
-- A field holding a plain Lua table of modules is not registered: use nn.Sequential (which
-- also serves as a list: seq:add(m), seq[i], #seq) for lists of modules.
--
-- Dims are 1-based (negative from the end); class-id targets are 1-based int64.

local lunet = require "lunet"
local C = lunet._nn

local assert, error, getmetatable, ipairs, next, pairs, rawget, select, setmetatable,
      tostring, type = assert, error, getmetatable, ipairs, next, pairs, rawget, select,
      setmetatable, tostring, type
local math_type, sqrt, concat, sort, format = math.type, math.sqrt, table.concat, table.sort,
      string.format

local M = {}
local require = require   -- nn.summary loads lunet.summary on first use

_ENV = nil

-- ---- recognizing things -------------------------------------------------------------------

local classes = setmetatable({}, {__mode = "k"})   -- class table -> true
local params = setmetatable({}, {__mode = "k"})    -- tensor made by nn.Parameter -> true
local buffers = setmetatable({}, {__mode = "k"})   -- tensor made by nn.Buffer -> true
local FIELDS, ORDER = {}, {}                       -- private keys of a Lua module instance

local function is_tensor(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return mt and mt.__name == "lunet.Tensor" or false
end
local function is_cmodule(v) return C.is_module(v) end
local function is_lmodule(v) return type(v) == "table" and classes[getmetatable(v)] == true end
local function is_module(v) return is_cmodule(v) or is_lmodule(v) end
local function is_param(v) return params[v] == true end
local function is_buffer(v) return buffers[v] == true end

local function shapestr(t) return "[" .. concat(t:shape(), ", ") .. "]" end
local function keyname(k)
  if math_type(k) == "integer" then return tostring(k - 1) end
  return tostring(k)
end

M.is_module = is_module

-- ---- Parameter -----------------------------------------------------------------------------

--- nn.Parameter(t [, requires_grad = true]): a leaf sharing t's storage, marked so that a
--- module field holding it is registered.
function M.Parameter(t, requires_grad)
  if not is_tensor(t) then
    error("nn.Parameter: expected a tensor, got " .. type(t), 2)
  end
  local p = t:detach()
  p:set_requires_grad(requires_grad ~= false)
  params[p] = true
  return p
end
M.is_parameter = is_param

--- nn.Buffer(t): a tensor sharing t's storage that a module field registers as a buffer (as
--- BatchNorm's running_mean): in state_dict, load_state_dict and named_parameters, not in
--- parameters() (the optimizer's list); no gradient.
function M.Buffer(t)
  if not is_tensor(t) then
    error("nn.Buffer: expected a tensor, got " .. type(t), 2)
  end
  local b = t:detach()
  buffers[b] = true
  return b
end
M.is_buffer = is_buffer

-- ---- walking a module tree ----------------------------------------------------------------

-- Calls visit(name, tensor) for every parameter (and with bufs, every buffer) in registration
-- order (PyTorch's order); with seen, a tensor met twice (a shared module or parameter) is
-- visited once.
local function walk(m, prefix, visit, seen, bufs)
  if is_cmodule(m) then
    local map, names = m:named_parameters()
    for _, n in ipairs(names) do
      local t = map[n]
      if not seen or not seen[t] then
        if seen then seen[t] = true end
        visit(prefix .. n, t)
      end
    end
    return
  end
  local f = rawget(m, FIELDS)
  for _, k in ipairs(rawget(m, ORDER)) do
    local v = f[k]
    local name = prefix .. keyname(k)
    if is_param(v) or (bufs and is_buffer(v)) then
      if not seen or not seen[v] then
        if seen then seen[v] = true end
        visit(name, v)
      end
    elseif is_module(v) then
      if not seen or not seen[v] then
        if seen then seen[v] = true end
        walk(v, name .. ".", visit, seen, bufs)
      end
    end
  end
end

-- The child modules of a Lua module, as {key, module} pairs in registration order.
local function children(m)
  local out = {}
  if is_cmodule(m) then
    for i = 1, #m do out[#out + 1] = {i, m[i]} end
    return out
  end
  local f = rawget(m, FIELDS)
  for _, k in ipairs(rawget(m, ORDER)) do
    if is_module(f[k]) then out[#out + 1] = {k, f[k]} end
  end
  return out
end

-- ---- methods shared by every module --------------------------------------------------------

local Base = {}

function Base:forward()
  error((getmetatable(self).__name or "Module") .. ": forward is not defined", 2)
end

--- m:parameters(): the parameters in registration order, each once.
function Base:parameters()
  local out = {}
  walk(self, "", function(_, t) out[#out + 1] = t end, {})
  return out
end

--- m:named_parameters(): name -> tensor (each tensor once, buffers included), and the names in order.
function Base:named_parameters()
  local map, names = {}, {}
  walk(self, "", function(n, t) map[n] = t; names[#names + 1] = n end, {}, true)
  return map, names
end

--- m:state_dict(): name -> tensor sharing the parameter's storage (detached), and the names
--- in order. A shared parameter appears under each of its names, as in PyTorch.
function Base:state_dict()
  local map, names = {}, {}
  walk(self, "", function(n, t) map[n] = t:detach(); names[#names + 1] = n end, nil, true)
  return map, names
end

--- m:load_state_dict(sd [, strict = true]): copies sd's tensors into the parameters.
--- A wrong shape is always an error; with strict, a missing or unexpected name is too.
--- Nothing is copied unless everything checks. Returns the missing and unexpected names.
function Base:load_state_dict(sd, strict)
  if type(sd) ~= "table" then
    error("load_state_dict: expected a table of name -> tensor, got " .. type(sd), 2)
  end
  strict = strict ~= false
  local own, names = {}, {}
  walk(self, "", function(n, t) own[n] = t; names[#names + 1] = n end, nil, true)
  local missing, unexpected = {}, {}
  for _, n in ipairs(names) do
    local v = sd[n]
    if v == nil then
      missing[#missing + 1] = n
    elseif not is_tensor(v) then
      error(format("load_state_dict: %s: expected a tensor, got %s", n, type(v)), 2)
    elseif shapestr(v) ~= shapestr(own[n]) then
      error(format("load_state_dict: size mismatch for %s: shape %s in the state dict, %s in "
                   .. "the model", n, shapestr(v), shapestr(own[n])), 2)
    end
  end
  for k in pairs(sd) do
    if own[k] == nil then unexpected[#unexpected + 1] = tostring(k) end
  end
  sort(unexpected)
  if strict and (#missing > 0 or #unexpected > 0) then
    local parts = {}
    for _, n in ipairs(missing) do
      parts[#parts + 1] = format("missing key %s (shape %s)", n, shapestr(own[n]))
    end
    for _, n in ipairs(unexpected) do
      local v = sd[n]
      parts[#parts + 1] = format("unexpected key %s", n)
        .. (is_tensor(v) and format(" (shape %s)", shapestr(v)) or "")
    end
    error("load_state_dict: " .. concat(parts, "; "), 2)
  end
  lunet.no_grad(function()
    for _, n in ipairs(names) do
      if sd[n] ~= nil then own[n]:copy_(sd[n]) end
    end
  end)
  return missing, unexpected
end

function Base:zero_grad()
  for _, p in ipairs(self:parameters()) do
    local g = p.grad
    if g then g:zero_() end
  end
end

function Base:num_parameters()
  local n = 0
  for _, p in ipairs(self:parameters()) do n = n + p:numel() end
  return n
end

--- m:train([mode = true]) and m:eval(): set training recursively (Dropout obeys). Return m.
function Base:train(mode)
  if mode == nil then mode = true end
  rawget(self, FIELDS).training = mode and true or false
  for _, kv in ipairs(children(self)) do kv[2]:train(mode) end
  return self
end
function Base:eval() return self:train(false) end

--- m:children(): the direct child modules in registration order.
function Base:children()
  local out = {}
  for _, kv in ipairs(children(self)) do out[#out + 1] = kv[2] end
  return out
end

--- m:apply(fn): fn(sub) for every submodule (children first), then fn(m); returns m.
function Base:apply(fn)
  for _, kv in ipairs(children(self)) do
    local c = kv[2]
    if is_lmodule(c) then c:apply(fn) else fn(c) end
  end
  fn(self)
  return self
end

--- m:add_module(name, child) and m:register_parameter(name, p): explicit registration.
function Base:add_module(name, child)
  if not is_module(child) then
    error("add_module: expected a module, got " .. type(child), 2)
  end
  self[name] = child
end
function Base:register_parameter(name, p)
  if not is_param(p) then p = M.Parameter(p) end
  self[name] = p
  return p
end
--- m:register_buffer(name, t): self[name] = nn.Buffer(t); returns the buffer.
function Base:register_buffer(name, t)
  if not is_buffer(t) then t = M.Buffer(t) end
  self[name] = t
  return t
end

local function addindent(s, n)
  return (s:gsub("\n", "\n" .. (" "):rep(n)))
end

-- PyTorch's repr: extra_repr on the first line(s), then "(name): child" per child.
local function repr(m)
  if is_cmodule(m) then return tostring(m) end
  local name = getmetatable(m).__name or "Module"
  local lines = {}
  local extra = m.extra_repr and m:extra_repr() or ""
  if extra ~= "" then
    for line in (extra .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  end
  for _, kv in ipairs(children(m)) do
    lines[#lines + 1] = "(" .. keyname(kv[1]) .. "): " .. addindent(repr(kv[2]), 2)
  end
  if #lines == 0 then return name .. "()" end
  if #lines == 1 and extra ~= "" and not extra:find("\n") then
    return name .. "(" .. extra .. ")"
  end
  return name .. "(\n  " .. concat(lines, "\n  ") .. "\n)"
end
M.repr = repr

-- ---- classes ------------------------------------------------------------------------------------

local function new(cls, ...)
  local self = setmetatable({[FIELDS] = {training = true}, [ORDER] = {}}, cls)
  local init = cls.init
  if init then init(self, ...) end
  return self
end

--- nn.Module(name [, parent]): a new module class. Instances are tables whose fields are
--- kept in a private table, so every assignment is seen and modules / nn.Parameter values
--- are registered in assignment order.
function M.Module(name, parent)
  if type(name) ~= "string" then
    error("nn.Module: expected a class name, got " .. type(name), 2)
  end
  if parent ~= nil and not classes[parent] then
    error("nn.Module: the parent of " .. name .. " must be an nn.Module class", 2)
  end
  local cls = {__name = name}
  cls.__index = function(self, k)
    local v = rawget(self, FIELDS)[k]
    if v ~= nil then return v end
    return cls[k]
  end
  cls.__newindex = function(self, k, v)
    if is_module(v) or is_param(v) or is_buffer(v) then
      local order = rawget(self, ORDER)
      local f = rawget(self, FIELDS)
      local known = false
      for _, key in ipairs(order) do
        if key == k then known = true; break end
      end
      if not known then order[#order + 1] = k end
      f[k] = v
    else
      rawget(self, FIELDS)[k] = v
    end
  end
  cls.__call = function(self, ...) return self:forward(...) end
  cls.__tostring = repr
  cls.__pairs = function(self) return next, rawget(self, FIELDS), nil end
  if parent then
    for _, mm in ipairs{"__len", "__tostring", "__close"} do
      if rawget(parent, mm) then cls[mm] = rawget(parent, mm) end
    end
  end
  classes[cls] = true
  return setmetatable(cls, {__index = parent or Base, __call = new})
end

-- ---- built-in C layers ------------------------------------------------------------------------

M.Linear = C.Linear            -- Linear(in, out [, {bias = true, dtype = "float32", generator}])
M.ReLU = C.ReLU
M.LeakyReLU = C.LeakyReLU      -- LeakyReLU(negative_slope = 0.01)
M.Sigmoid = C.Sigmoid
M.Tanh = C.Tanh
M.GELU = C.GELU                -- exact (erf) form
M.Softmax = C.Softmax          -- Softmax(dim = -1)
M.LogSoftmax = C.LogSoftmax    -- LogSoftmax(dim = -1)
M.Identity = C.Identity
M.Dropout = C.Dropout          -- Dropout(p = 0.5 [, {generator}]); identity in eval mode
M.Flatten = C.Flatten          -- Flatten(start_dim = 2, end_dim = -1)

-- The C layers get the Lua-level shared methods too.
C.methods.state_dict = Base.state_dict
C.methods.load_state_dict = Base.load_state_dict
C.methods.children = Base.children
C.methods.apply = function(self, fn) fn(self); return self end

-- ---- Sequential ------------------------------------------------------------------------------

local Sequential = M.Module("Sequential")
M.Sequential = Sequential

function Sequential:init(...)
  for i = 1, select("#", ...) do
    local m = select(i, ...)
    if not is_module(m) then
      error(format("Sequential: argument %d is not a module (got %s)", i, type(m)), 3)
    end
    self:add(m)
  end
end

--- seq:add(m): appends a module; returns seq.
function Sequential:add(m)
  if not is_module(m) then
    error("Sequential:add: expected a module, got " .. type(m), 2)
  end
  self[#self + 1] = m
  return self
end

local chain = C.chain
function Sequential:forward(x)
  local list = rawget(self, FIELDS)
  local n = #list
  if is_tensor(x) then     -- C children run in one C call (no Lua box per activation)
    local y = chain(x, list, n)
    if y then return y end
  end
  for i = 1, n do x = self[i](x) end
  return x
end

Sequential.__len = function(self) return #rawget(self, FIELDS) end

-- ---- initializers (torch.nn.init; in-place, outside autograd) -------------------------------

local init = {}
M.init = init

local function check_tensor(t, op)
  if not is_tensor(t) then error(op .. ": expected a tensor, got " .. type(t), 3) end
end

local function fans(t, op)
  local shape = t:shape()
  if #shape < 2 then
    error(format("%s: fan in and fan out can not be computed for a tensor with fewer than 2 "
                 .. "dimensions (shape %s)", op, shapestr(t)), 3)
  end
  local receptive = 1
  for i = 3, #shape do receptive = receptive * shape[i] end
  return shape[2] * receptive, shape[1] * receptive
end

--- init.calculate_gain(nonlinearity [, param]): PyTorch's recommended gains.
function init.calculate_gain(nonlinearity, param)
  local linear = {linear = true, identity = true, sigmoid = true, conv1d = true, conv2d = true,
                  conv3d = true, conv_transpose1d = true, conv_transpose2d = true,
                  conv_transpose3d = true}
  if linear[nonlinearity] then return 1.0 end
  if nonlinearity == "tanh" then return 5.0 / 3 end
  if nonlinearity == "relu" then return sqrt(2.0) end
  if nonlinearity == "selu" then return 3.0 / 4 end
  if nonlinearity == "leaky_relu" then
    local slope = param == nil and 0.01 or param
    if type(slope) ~= "number" then
      error("calculate_gain: negative_slope " .. tostring(slope) .. " is not a valid number", 2)
    end
    return sqrt(2.0 / (1 + slope * slope))
  end
  error("calculate_gain: unsupported nonlinearity " .. tostring(nonlinearity), 2)
end

-- The tensor methods, with grad mode off as torch.nn.init's no_grad: a parameter that requires
-- grad may then be changed in place.
local function fill_(t, v) lunet.no_grad(function() t:fill_(v) end); return t end
local function uniform_(t, a, b, gen) lunet.no_grad(function() t:uniform_(a, b, gen) end); return t end
local function normal_(t, m, sd, gen) lunet.no_grad(function() t:normal_(m, sd, gen) end); return t end

function init.uniform_(t, a, b, generator)
  check_tensor(t, "uniform_")
  return uniform_(t, a or 0.0, b or 1.0, generator)
end

function init.normal_(t, mean, std, generator)
  check_tensor(t, "normal_")
  return normal_(t, mean or 0.0, std or 1.0, generator)
end

function init.constant_(t, v)
  check_tensor(t, "constant_")
  if type(v) ~= "number" then error("constant_: expected a number, got " .. type(v), 2) end
  return fill_(t, v)
end
function init.zeros_(t) check_tensor(t, "zeros_"); return fill_(t, 0) end
function init.ones_(t) check_tensor(t, "ones_"); return fill_(t, 1) end

--- xavier_uniform_(t [, gain = 1 [, generator]]): U(-a, a), a = gain·sqrt(6/(fan_in+fan_out)).
function init.xavier_uniform_(t, gain, generator)
  check_tensor(t, "xavier_uniform_")
  local fan_in, fan_out = fans(t, "xavier_uniform_")
  local std = (gain or 1.0) * sqrt(2.0 / (fan_in + fan_out))
  local a = sqrt(3.0) * std
  return uniform_(t, -a, a, generator)
end

--- xavier_normal_(t [, gain = 1 [, generator]]): N(0, gain²·2/(fan_in+fan_out)).
function init.xavier_normal_(t, gain, generator)
  check_tensor(t, "xavier_normal_")
  local fan_in, fan_out = fans(t, "xavier_normal_")
  return normal_(t, 0.0, (gain or 1.0) * sqrt(2.0 / (fan_in + fan_out)), generator)
end

local function kaiming_std(t, opts, op)
  if type(opts) == "number" then opts = {a = opts} end
  opts = opts or {}
  local a = opts.a or 0
  local mode = opts.mode or "fan_in"
  local nonlinearity = opts.nonlinearity or "leaky_relu"
  if mode ~= "fan_in" and mode ~= "fan_out" then
    error(op .. ": mode must be 'fan_in' or 'fan_out', got " .. tostring(mode), 3)
  end
  local fan_in, fan_out = fans(t, op)
  local fan = mode == "fan_in" and fan_in or fan_out
  return init.calculate_gain(nonlinearity, a) / sqrt(fan), opts.generator
end

--- kaiming_uniform_(t [, {a = 0, mode = "fan_in", nonlinearity = "leaky_relu", generator}]):
--- U(-b, b), b = gain·sqrt(3/fan).
function init.kaiming_uniform_(t, opts)
  check_tensor(t, "kaiming_uniform_")
  local std, gen = kaiming_std(t, opts, "kaiming_uniform_")
  local bound = sqrt(3.0) * std
  return uniform_(t, -bound, bound, gen)
end

--- kaiming_normal_(t [, {a, mode, nonlinearity, generator}]): N(0, gain²/fan).
function init.kaiming_normal_(t, opts)
  check_tensor(t, "kaiming_normal_")
  local std, gen = kaiming_std(t, opts, "kaiming_normal_")
  return normal_(t, 0.0, std, gen)
end

-- ---- losses -------------------------------------------------------------------------------------

local reductions = {mean = true, sum = true, none = true}

-- opts: nil, a reduction string, or {reduction = …}
local function reduction(opts, op)
  local r = opts
  if type(opts) == "table" then r = opts.reduction end
  if r == nil then return "mean" end
  if not reductions[r] then
    error(format("%s: reduction must be 'mean', 'sum' or 'none', got %s", op, tostring(r)), 3)
  end
  return r
end

local function loss_fn(name, cfn)
  return function(input, target, opts)
    return cfn(input, target, reduction(opts, name))
  end
end

--- cross_entropy(logits [N,C], target [, {reduction}]): target int64 class ids 1..C of
--- shape [N], or class probabilities [N,C]. Fused log-softmax + NLL.
M.cross_entropy = loss_fn("cross_entropy", C.cross_entropy)
--- nll_loss(log_probs [N,C], target int64 1..C [N] [, {reduction}])
M.nll_loss = loss_fn("nll_loss", C.nll_loss)
M.mse_loss = loss_fn("mse_loss", C.mse_loss)
M.l1_loss = loss_fn("l1_loss", C.l1_loss)
--- binary_cross_entropy(p, t): p probabilities in [0, 1], t of the same shape
M.binary_cross_entropy = loss_fn("binary_cross_entropy", C.binary_cross_entropy)
--- binary_cross_entropy_with_logits(z, t): sigmoid + BCE, numerically stable
M.binary_cross_entropy_with_logits = loss_fn("binary_cross_entropy_with_logits",
                                             C.binary_cross_entropy_with_logits)

local function loss_class(name, fn)
  local cls = M.Module(name)
  function cls:init(opts)
    self.reduction = reduction(opts, name)
  end
  function cls:forward(input, target) return fn(input, target, self.reduction) end
  function cls:extra_repr()
    return self.reduction == "mean" and "" or "reduction=" .. self.reduction
  end
  M[name] = cls
end
loss_class("CrossEntropyLoss", M.cross_entropy)
loss_class("NLLLoss", M.nll_loss)
loss_class("MSELoss", M.mse_loss)
loss_class("L1Loss", M.l1_loss)
loss_class("BCELoss", M.binary_cross_entropy)
loss_class("BCEWithLogitsLoss", M.binary_cross_entropy_with_logits)

-- ---- functional forms (torch.nn.functional) ---------------------------------------------------

M.functional = {
  -- the tensor functions themselves (ltensor.c)
  relu = lunet.relu, sigmoid = lunet.sigmoid, tanh = lunet.tanh, gelu = lunet.gelu,
  leaky_relu = lunet.leaky_relu,  -- (x, negative_slope = 0.01)
  pad = lunet.pad,                -- (x, pads [, {mode, value}] | mode [, value]): last dim first
  softmax = function(x, dim) return lunet.softmax(x, dim or -1) end,
  log_softmax = function(x, dim) return lunet.log_softmax(x, dim or -1) end,
  dropout = C.dropout,            -- (x, p = 0.5, training = true [, generator])
  linear = C.linear,              -- (x, w [, b])
  cross_entropy = M.cross_entropy, nll_loss = M.nll_loss, mse_loss = M.mse_loss,
  l1_loss = M.l1_loss, binary_cross_entropy = M.binary_cross_entropy,
  binary_cross_entropy_with_logits = M.binary_cross_entropy_with_logits,
}
M.F = M.functional

require("lunet.nn_rnn")(M)     -- Embedding, RNN/LSTM/GRU and cells, nn.utils clipping

--- nn.summary(model, input_shape): per-layer output shapes and parameter counts (lunet/summary.lua)
function M.summary(...) return require("lunet.summary").summary(...) end

require("lunet.nn_conv")(M)   -- Conv1d/2d, ConvTranspose2d, MaxPool1d/2d
require("lunet.nn_norm")(M)   -- BatchNorm1d/2d, LayerNorm, GroupNorm, Dropout2d, AvgPool1d/2d,
                              -- AdaptiveAvg/MaxPool2d, Upsample
assert(Base and M.Module)
return M
