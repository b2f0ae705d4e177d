-- lunet/summary.lua: nn.summary(model, input_shape), a torchinfo-like table of a model's layers.
--
--   print(nn.summary(model, {1, 784}))
--   Layer (type)       Output Shape  Param #
--   ==========================================
--   Sequential         [1, 10]       --
--     (0) Linear       [1, 256]      200,960
--     (1) ReLU         [1, 256]      --
--     …
--   ==========================================
--   Total params: 235,146
--   Trainable params: 235,146
--   Non-trainable params: 0
--   Input shape: [1, 784] float32
--   Params size: 0.90 MB
--
-- summary(model, input_shape [, {dtype = "float32"}]) runs one forward pass on zeros of that
-- shape (input_shape may also be a tensor, used as the input) without recording a graph, and
-- records every module's output: Lua modules by wrapping their forward for the call, C layers
-- held by a Lua module by standing in a recording proxy in their field. It returns
-- {text, total, trainable, rows = {{name, type, depth, shape, params}, …}}, which prints as text
-- (so the REPL shows the table).
-- The model is left as it was, also when its forward raises.

local lunet = require "lunet"
local nn = require "lunet.nn"
local util = require "lunet.util"
local raise = util.raise
local ipairs, pairs, type, tostring, getmetatable, setmetatable, pcall, error, rawequal =
  ipairs, pairs, type, tostring, getmetatable, setmetatable, pcall, error, rawequal
local math, string, table = math, string, table
local M = {}
_ENV = nil

local function istensor(x)
  local mt = type(x) == "userdata" and getmetatable(x)
  return type(mt) == "table" and mt.__name == "lunet.Tensor"
end

local function is_c(m) return type(m) == "userdata" end

local function typename(m)
  if is_c(m) then return (tostring(m):match("^([%w_]+)")) or "Module" end
  return getmetatable(m).__name or "Module"
end

-- "1,234,567"
local function commas(n)
  local s = tostring(math.tointeger(n) or n)
  local k
  repeat s, k = s:gsub("^(%-?%d+)(%d%d%d)", "%1,%2") until k == 0
  return s
end

local function shapetext(v)
  if istensor(v) then return "[" .. table.concat(v:shape(), ", ") .. "]" end
  if type(v) == "table" then
    local parts = {}
    for i, t in ipairs(v) do parts[i] = shapetext(t) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return v == nil and "--" or type(v)
end

-- The parameters a module holds itself (not through a child module).
local function own_params(m)
  local list = {}
  if is_c(m) then
    local map, names = m:named_parameters()
    for _, n in ipairs(names) do list[#list + 1] = map[n] end
  else
    for _, v in pairs(m) do
      if nn.is_parameter(v) then list[#list + 1] = v end
    end
  end
  return list
end

-- Direct children as {key, module}, keys sorted as registered (the module's children order).
local function kids(m)
  if is_c(m) then return {} end
  local list, out = m:children(), {}
  local keyof = {}
  for k, v in pairs(m) do if nn.is_module(v) then keyof[v] = k end end
  for i, c in ipairs(list) do out[i] = {keyof[c], c} end
  return out
end

function M.summary(model, input_shape, opts)
  local F = "nn.summary"
  if not nn.is_module(model) then raise(F .. ": expected a module, got " .. type(model)) end
  opts = opts or {}
  if type(opts) ~= "table" then raise(F .. ": opts must be a table, got " .. type(opts)) end
  local x
  if istensor(input_shape) then
    x = input_shape
  elseif type(input_shape) == "table" and #input_shape > 0 then
    for i, d in ipairs(input_shape) do
      if math.type(d) ~= "integer" or d < 0 then
        raise(("%s: input_shape[%d] must be a non-negative integer, got %s"):format(F, i,
          tostring(d)))
      end
    end
    x = lunet.zeros(input_shape, {dtype = opts.dtype or "float32"})
  else
    raise(F .. ": input_shape must be a table of sizes (batch first) or a tensor, got "
      .. type(input_shape))
  end

  -- the rows, depth first in registration order; shared modules are listed once
  local rows, seen, byk = {}, {}, {}
  local function visit(m, name, depth)
    if seen[m] then return end
    seen[m] = true
    local n = 0
    for _, p in ipairs(own_params(m)) do n = n + p:numel() end
    local row = {name = name, type = typename(m), depth = depth, params = n, module = m}
    rows[#rows + 1] = row
    byk[m] = row
    for _, kv in ipairs(kids(m)) do
      local k = kv[1]
      visit(kv[2], math.type(k) == "integer" and tostring(k - 1) or tostring(k), depth + 1)
    end
  end
  visit(model, nil, 0)

  -- install the recorders, run, restore
  local undo = {}
  local function record(m, out) if byk[m] then byk[m].out = out end end
  for _, row in ipairs(rows) do
    local m = row.module
    if not is_c(m) then
      local cls = getmetatable(m)
      local own = m.forward
      local inherited = rawequal(own, cls.forward)
      local seq = cls == nn.Sequential
      m.forward = function(self, ...)
        local out
        if seq then                                 -- child by child, through the proxies
          out = ...
          for i = 1, #self do out = self[i](out) end
        else
          out = own(self, ...)
        end
        record(m, out)
        return out
      end
      undo[#undo + 1] = function() m.forward = not inherited and own or nil end
      for _, kv in ipairs(kids(m)) do
        local c = kv[2]
        if is_c(c) then
          m[kv[1]] = setmetatable({}, {__index = c, __call = function(_, ...)
            local out = c(...)
            record(c, out)
            return out
          end})
          undo[#undo + 1] = function() m[kv[1]] = c end
        end
      end
    end
  end
  local ok, err = pcall(lunet.no_grad, function() return model(x) end)
  for i = #undo, 1, -1 do undo[i]() end
  if not ok then error(err, 0) end
  if is_c(model) then rows[1].out = err end         -- a lone C layer: its result is the output

  -- the table
  local total, trainable, bytes = 0, 0, 0
  for _, p in ipairs(model:parameters()) do
    total = total + p:numel()
    if p:requires_grad() then trainable = trainable + p:numel() end
    bytes = bytes + p:numel() * (p:dtype() == "float64" and 8 or 4)
  end
  local cells = {{"Layer (type)", "Output Shape", "Param #"}}
  local info = {total = total, trainable = trainable, rows = {}}
  for _, r in ipairs(rows) do
    local label = ("  "):rep(r.depth) .. (r.name and "(" .. r.name .. ") " or "") .. r.type
    local shape = shapetext(r.out)
    cells[#cells + 1] = {label, shape, r.params > 0 and commas(r.params) or "--"}
    info.rows[#info.rows + 1] = {name = r.name, type = r.type, depth = r.depth, shape = shape,
                                 params = r.params}
  end
  local w = {0, 0, 0}
  for _, c in ipairs(cells) do
    for j = 1, 3 do w[j] = math.max(w[j], #c[j]) end
  end
  local lines = {}
  local rule = ("="):rep(w[1] + w[2] + w[3] + 4)
  for i, c in ipairs(cells) do
    lines[#lines + 1] = (c[1] .. (" "):rep(w[1] - #c[1] + 2) .. c[2]
      .. (" "):rep(w[2] - #c[2] + 2) .. c[3]):gsub("%s+$", "")
    if i == 1 then lines[#lines + 1] = rule end
  end
  lines[#lines + 1] = rule
  lines[#lines + 1] = "Total params: " .. commas(total)
  lines[#lines + 1] = "Trainable params: " .. commas(trainable)
  lines[#lines + 1] = "Non-trainable params: " .. commas(total - trainable)
  lines[#lines + 1] = "Input shape: " .. shapetext(x) .. " " .. x:dtype()
  lines[#lines + 1] = ("Params size: %.2f MB"):format(bytes / (1024 * 1024))
  info.text = table.concat(lines, "\n")
  return setmetatable(info, {__tostring = function(t) return t.text end})
end

return M
