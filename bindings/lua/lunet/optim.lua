-- lunet/optim.lua: the optimizers (from the C core, lunet._optim) and learning-rate schedulers.
--
--   local optim = require "lunet.optim"
--   local opt = optim.SGD(model:parameters(), {lr = 0.1, momentum = 0.9})
--   local sched = optim.StepLR(opt, {step_size = 30, gamma = 0.1})
--   for epoch = 1, 90 do train(opt); sched:step() end
--
-- Schedulers follow torch.optim.lr_scheduler. Construction counts as the first step
-- (last_epoch = 0, the learning rates unchanged); each sched:step() then sets every group's
-- learning rate from the closed form at last_epoch + 1. ReduceLROnPlateau:step(metric) lowers
-- them when the metric stops improving.
local lunet = require "lunet"

local C = lunet._optim
local math, type, pairs, ipairs, error, setmetatable, getmetatable, tostring, select, rawget =
  math, type, pairs, ipairs, error, setmetatable, getmetatable, tostring, select, rawget
local sformat, concat, sort = string.format, table.concat, table.sort

local M = {}
for name, new in pairs(C) do M[name] = new end -- one constructor per optimizer of the core

_ENV = nil

-- ---- option tables ----------------------------------------------------------------

-- Reads opts against spec = {name = {kind, default}} where kind is "number", "integer",
-- "string" or "any" and default nil means required. Unknown names are errors listing the valid.
local function readopts(who, opts, spec)
  if opts ~= nil and type(opts) ~= "table" then
    error(sformat("%s: options must be a table, got %s", who, type(opts)), 3)
  end
  opts = opts or {}
  local valid = {}
  for k in pairs(spec) do valid[#valid + 1] = k end
  sort(valid)
  local unknown = {}
  for k in pairs(opts) do
    if type(k) ~= "string" or not spec[k] then unknown[#unknown + 1] = tostring(k) end
  end
  if #unknown > 0 then -- the first in byte order, whatever the table's order
    sort(unknown)
    error(sformat("%s: unknown option '%s' (valid: %s)", who, unknown[1], concat(valid, ", ")), 3)
  end
  local r = {}
  for _, k in ipairs(valid) do
    local kind, default = spec[k][1], spec[k][2]
    local v = opts[k]
    if v == nil then
      if default == nil then error(sformat("%s: option '%s' is required", who, k), 3) end
      v = default
    end
    if kind == "integer" then
      if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v)) then
        error(sformat("%s: option '%s' must be an integer, got %s", who, k, tostring(v)), 3)
      end
      v = math.tointeger(v)
    elseif kind ~= "any" and type(v) ~= kind then
      error(sformat("%s: option '%s' must be a %s, got %s", who, k, kind, type(v)), 3)
    end
    r[k] = v
  end
  return r
end

local function checkoptim(who, opt)
  local mt = getmetatable(opt)
  if not (mt and mt.__name == "lunet.Optimizer") then
    error(sformat("%s: the first argument must be an optimizer, got %s", who, type(opt)), 3)
  end
  return opt
end

local function group_lrs(opt)
  local lrs = {}
  for g = 1, opt:num_groups() do lrs[g] = opt:get_lr(g) end
  return lrs
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = x end
  return t
end

-- ---- the closed-form schedulers -------------------------------------------------------

local Scheduler = {}
Scheduler.__index = Scheduler

-- A new scheduler of class cls over opt: records the base learning rates and takes the
-- initial step (last_epoch 0), as PyTorch's LRScheduler constructor does.
local function new_scheduler(cls, opt, fields)
  local self = setmetatable(fields, cls)
  self.optimizer = opt
  self.base_lrs = group_lrs(opt)
  self.last_epoch = -1
  self:step()
  return self
end

function Scheduler:step()
  self.last_epoch = self.last_epoch + 1
  local lrs = {}
  for g, base in ipairs(self.base_lrs) do
    lrs[g] = self:closed_form(base, self.last_epoch)
    self.optimizer:set_lr(lrs[g], g)
  end
  self._last_lr = lrs
end

-- The learning rates the last step set, one per group (a new table).
function Scheduler:get_last_lr() return copy(self._last_lr) end

-- Everything but the optimizer, as PyTorch's state_dict.
function Scheduler:state_dict()
  local s = {}
  for k, v in pairs(self) do
    if k ~= "optimizer" then s[k] = copy(v) end
  end
  return s
end

-- Restores fields saved by state_dict; an unknown key or a value of another type is an error.
function Scheduler:load_state_dict(s)
  local who = self.name .. ":load_state_dict"
  if type(s) ~= "table" then error(sformat("%s: expected a table, got %s", who, type(s)), 2) end
  local keys = {}
  for k in pairs(s) do keys[#keys + 1] = tostring(k) end
  sort(keys) -- errors name the first bad key in byte order, whatever the table's order
  for _, name in ipairs(keys) do
    local cur = rawget(self, name)
    if name == "optimizer" or cur == nil or s[name] == nil then
      error(sformat("%s: unknown key '%s'", who, name), 2)
    end
    if type(cur) ~= type(s[name]) then
      error(sformat("%s: '%s' must be a %s, got %s", who, name, type(cur), type(s[name])), 2)
    end
  end
  if s.base_lrs and #s.base_lrs ~= #self.base_lrs then
    error(sformat("%s: base_lrs has %d entries, the optimizer has %d groups", who, #s.base_lrs,
      #self.base_lrs), 2)
  end
  for k, v in pairs(s) do self[k] = copy(v) end
end

function Scheduler:__tostring()
  local keys = {}
  for k, v in pairs(self) do
    if type(v) == "number" or type(v) == "string" then keys[#keys + 1] = k end
  end
  sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = k .. "=" .. tostring(self[k]) end
  return self.name .. "(" .. concat(parts, ", ") .. ")"
end

local function class(name, parent)
  local cls = {name = name}
  cls.__index = cls
  cls.__tostring = parent.__tostring
  return setmetatable(cls, {__index = parent})
end

-- StepLR: lr = base · gamma^floor(epoch / step_size)
local StepLR = class("StepLR", Scheduler)
function StepLR:closed_form(base, e) return base * self.gamma ^ (e // self.step_size) end

function M.StepLR(opt, opts)
  checkoptim("StepLR", opt)
  local o = readopts("StepLR", opts, {step_size = {"integer"}, gamma = {"number", 0.1}})
  if o.step_size < 1 then
    error(sformat("StepLR: step_size must be a positive integer, got %d", o.step_size), 2)
  end
  return new_scheduler(StepLR, opt, {step_size = o.step_size, gamma = o.gamma})
end

-- ExponentialLR: lr = base · gamma^epoch
local ExponentialLR = class("ExponentialLR", Scheduler)
function ExponentialLR:closed_form(base, e) return base * self.gamma ^ e end

function M.ExponentialLR(opt, opts)
  checkoptim("ExponentialLR", opt)
  local o = readopts("ExponentialLR", opts, {gamma = {"number"}})
  return new_scheduler(ExponentialLR, opt, {gamma = o.gamma})
end

-- CosineAnnealingLR: lr = eta_min + (base - eta_min)(1 + cos(pi·epoch / T_max)) / 2
local CosineAnnealingLR = class("CosineAnnealingLR", Scheduler)
function CosineAnnealingLR:closed_form(base, e)
  return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * e / self.T_max)) / 2
end

function M.CosineAnnealingLR(opt, opts)
  checkoptim("CosineAnnealingLR", opt)
  local o = readopts("CosineAnnealingLR", opts, {T_max = {"integer"}, eta_min = {"number", 0}})
  if o.T_max < 1 then
    error(sformat("CosineAnnealingLR: T_max must be a positive integer, got %d", o.T_max), 2)
  end
  return new_scheduler(CosineAnnealingLR, opt, {T_max = o.T_max, eta_min = o.eta_min})
end

-- ---- ReduceLROnPlateau -----------------------------------------------------------------

local Plateau = class("ReduceLROnPlateau", Scheduler)

function M.ReduceLROnPlateau(opt, opts)
  local who = "ReduceLROnPlateau"
  checkoptim(who, opt)
  local o = readopts(who, opts, {
    mode = {"string", "min"}, factor = {"number", 0.1}, patience = {"integer", 10},
    threshold = {"number", 1e-4}, threshold_mode = {"string", "rel"}, cooldown = {"integer", 0},
    min_lr = {"any", 0}, eps = {"number", 1e-8},
  })
  if not (o.factor < 1) then error(sformat("%s: factor should be < 1.0, got %s", who, o.factor), 2) end
  if o.mode ~= "min" and o.mode ~= "max" then
    error(sformat("%s: mode '%s' is unknown (valid: min, max)", who, o.mode), 2)
  end
  if o.threshold_mode ~= "rel" and o.threshold_mode ~= "abs" then
    error(sformat("%s: threshold_mode '%s' is unknown (valid: rel, abs)", who, o.threshold_mode), 2)
  end
  if o.patience < 0 or o.cooldown < 0 then
    error(sformat("%s: patience and cooldown must be >= 0", who), 2)
  end
  local ng, min_lrs = opt:num_groups(), {}
  if type(o.min_lr) == "number" then
    for g = 1, ng do min_lrs[g] = o.min_lr end
  elseif type(o.min_lr) == "table" then
    if #o.min_lr ~= ng then
      error(sformat("%s: expected %d min_lrs, got %d", who, ng, #o.min_lr), 2)
    end
    for g = 1, ng do
      if type(o.min_lr[g]) ~= "number" then
        error(sformat("%s: min_lr[%d] must be a number, got %s", who, g, type(o.min_lr[g])), 2)
      end
      min_lrs[g] = o.min_lr[g]
    end
  else
    error(sformat("%s: option 'min_lr' must be a number or a table, got %s", who, type(o.min_lr)), 2)
  end
  local self = setmetatable({
    optimizer = opt, mode = o.mode, factor = o.factor, patience = o.patience,
    threshold = o.threshold, threshold_mode = o.threshold_mode, cooldown = o.cooldown,
    min_lrs = min_lrs, eps = o.eps, best = o.mode == "min" and math.huge or -math.huge,
    num_bad_epochs = 0, cooldown_counter = 0, last_epoch = 0, _last_lr = group_lrs(opt),
  }, Plateau)
  return self
end

function Plateau:is_better(a, best)
  local rel, t = self.threshold_mode == "rel", self.threshold
  if self.mode == "min" then
    if rel then return a < best * (1 - t) end
    return a < best - t
  end
  if rel then return a > best * (t + 1) end
  return a > best + t
end

-- sched:step(metric): metric a number or a one-element tensor.
function Plateau:step(...)
  local metric = ...
  if select("#", ...) == 0 or metric == nil then
    error("ReduceLROnPlateau:step: a metric value is required", 2)
  end
  if type(metric) ~= "number" then
    local mt = getmetatable(metric)
    if not (mt and mt.__name == "lunet.Tensor") then
      error(sformat("ReduceLROnPlateau:step: the metric must be a number, got %s", type(metric)), 2)
    end
    metric = metric:item()
  end
  self.last_epoch = self.last_epoch + 1
  if self:is_better(metric, self.best) then
    self.best = metric
    self.num_bad_epochs = 0
  else
    self.num_bad_epochs = self.num_bad_epochs + 1
  end
  if self.cooldown_counter > 0 then
    self.cooldown_counter = self.cooldown_counter - 1
    self.num_bad_epochs = 0
  end
  if self.num_bad_epochs > self.patience then
    local opt = self.optimizer
    for g = 1, opt:num_groups() do
      local old = opt:get_lr(g)
      local new = math.max(old * self.factor, self.min_lrs[g])
      if old - new > self.eps then opt:set_lr(new, g) end
    end
    self.cooldown_counter = self.cooldown
    self.num_bad_epochs = 0
  end
  self._last_lr = group_lrs(self.optimizer)
end

return M
