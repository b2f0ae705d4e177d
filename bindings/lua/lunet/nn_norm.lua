-- lunet/nn_norm.lua: the normalization, average/adaptive pooling and resampling layers of
-- lunet.nn (BatchNorm1d/2d, LayerNorm, GroupNorm, Dropout2d, AvgPool1d/2d, AdaptiveAvgPool2d,
-- AdaptiveMaxPool2d, Upsample) and their functional forms, Lua classes over lunet.batch_norm,
-- layer_norm, group_norm, dropout2d, avg_pool1d/2d, adaptive_avg/max_pool2d and interpolate
-- (runtime/ops_norm.c, ops_resample.c). Parameter and buffer names, initial values and
-- train/eval behaviour are PyTorch's, so a state_dict saved from PyTorch loads and predicts the
-- same; tostring prints as PyTorch's repr.
--
-- nn.lua calls this module's function with its own table M once M is complete.

local lunet = require "lunet"
local util = require "lunet.util"

local ipairs, math_type, tostring, tonumber, type, format, concat =
      ipairs, math.type, tostring, tonumber, type, string.format, table.concat
local raise, checkopts, shapestr, size_arg = util.raise, util.checkopts, util.shapestr, util.size_option

_ENV = nil

-- A positive finite number option (eps)
local function positive(v, what, cls)
  if type(v) ~= "number" or not (v > 0) or v == 1 / 0 then
    raise(format("%s: %s must be a positive number, got %s", cls, what, tostring(v)))
  end
  return v
end

-- Python's repr of a number: 2 -> "2", 2.0 -> "2.0", 1e-05 -> "1e-05"
local function pynum(v)
  if math_type(v) == "integer" then return tostring(v) end
  if v ~= v then return "nan" end
  if v == 1 / 0 or v == -1 / 0 then return v > 0 and "inf" or "-inf" end
  local s
  for p = 15, 17 do
    s = format("%." .. p .. "g", v)
    if tonumber(s) == v then break end
  end
  if not s:find("[%.e]") then s = s .. ".0" end
  return s
end

-- Python's repr of a size: 3 -> "3", {3} -> "(3,)", {2, 3} -> "(2, 3)"; floats with float=true
local function pysize(v, float)
  local conv = float and function(x) return pynum(x + 0.0) end or pynum
  if type(v) ~= "table" then return conv(v) end
  local parts = {}
  for i, x in ipairs(v) do parts[i] = conv(x) end
  return #parts == 1 and "(" .. parts[1] .. ",)" or "(" .. concat(parts, ", ") .. ")"
end

local function pybool(b) return b and "True" or "False" end

-- x must be a tensor (checked here so the message names the layer and the caller's line)
local function input(x, cls)
  if not lunet.is_tensor(x) then raise(format("%s: expected a tensor, got %s", cls, type(x))) end
  return x
end

-- x's dim 2 must hold n channels
local function channels(x, n, cls)
  if x:dim() >= 2 and x:size(2) ~= n then
    raise(format("%s: expected %d channels (dim 2), got input %s", cls, n, shapestr(x)))
  end
end

return function(M)
  local F = M.functional

  -- ---- batch normalization ---------------------------------------------------------------------

  -- BatchNorm over [N, C, *]: weight (ones) and bias (zeros) [C] with affine; buffers
  -- running_mean (zeros), running_var (ones) and num_batches_tracked (an int64 scalar) with
  -- track_running_stats. Training normalizes with the batch's statistics and moves the running
  -- ones by momentum (false: PyTorch's None, a cumulative average, 1 / num_batches_tracked);
  -- evaluation uses the running statistics, or the batch's without them.
  local function batchnorm_class(name, dims, expected)
    local cls = M.Module(name)
    function cls:init(n, opts)
      opts = checkopts(name, opts, {"eps", "momentum", "affine", "track_running_stats", "dtype"})
      if math_type(n) ~= "integer" or n < 1 then
        raise(format("%s: num_features must be a positive integer, got %s", name, tostring(n)))
      end
      local momentum = opts.momentum
      if momentum == nil then momentum = 0.1 end
      if momentum ~= false and (type(momentum) ~= "number" or not (momentum >= 0 and momentum <= 1)) then
        raise(format("%s: momentum must be a number between 0 and 1 or false (a cumulative "
                     .. "average), got %s", name, tostring(momentum)))
      end
      self.num_features = n
      self.eps = positive(opts.eps or 1e-5, "eps", name)
      self.momentum = momentum
      self.affine = opts.affine ~= false
      self.track_running_stats = opts.track_running_stats ~= false
      local dt = {dtype = opts.dtype or "float32"}
      if self.affine then
        self.weight = M.Parameter(lunet.ones({n}, dt))
        self.bias = M.Parameter(lunet.zeros({n}, dt))
      end
      if self.track_running_stats then
        self.running_mean = M.Buffer(lunet.zeros({n}, dt))
        self.running_var = M.Buffer(lunet.ones({n}, dt))
        self.num_batches_tracked = M.Buffer(lunet.tensor(0, {dtype = "int64"}))
      end
    end
    function cls:forward(x)
      if not dims[input(x, name):dim()] then
        raise(format("%s: expected %s, got %s", name, expected, shapestr(x)))
      end
      channels(x, self.num_features, name)
      local training, track = self.training, self.track_running_stats
      local factor, count = 0.0, nil
      if training and track then          -- counted only once the step has succeeded
        count = self.num_batches_tracked:item() + 1
        factor = self.momentum == false and 1 / count or self.momentum
      end
      local use_running = track and true or false
      local y = lunet.batch_norm(x, use_running and self.running_mean or nil,
                                 use_running and self.running_var or nil, self.weight, self.bias,
                                 training or not track, factor, self.eps)
      if count then
        local nbt = self.num_batches_tracked
        lunet.no_grad(function() nbt:fill_(count) end)
      end
      return y
    end
    function cls:extra_repr()
      return format("%d, eps=%s, momentum=%s, affine=%s, track_running_stats=%s", self.num_features,
                    pynum(self.eps), self.momentum == false and "None" or pynum(self.momentum),
                    pybool(self.affine), pybool(self.track_running_stats))
    end
    M[name] = cls
  end
  batchnorm_class("BatchNorm1d", {[2] = true, [3] = true}, "a 2-D or 3-D input ([N, C] or [N, C, L])")
  batchnorm_class("BatchNorm2d", {[4] = true}, "a 4-D input [N, C, H, W]")

  -- ---- layer and group normalization ---------------------------------------------------------

  local LayerNorm = M.Module("LayerNorm")
  M.LayerNorm = LayerNorm
  function LayerNorm:init(shape, opts)
    opts = checkopts("LayerNorm", opts, {"eps", "elementwise_affine", "dtype"})
    if math_type(shape) == "integer" then shape = {shape} end
    if type(shape) ~= "table" or #shape == 0 then
      raise("LayerNorm: normalized_shape must be an integer or a table of integers, got "
            .. (type(shape) == "table" and "an empty table" or type(shape)))
    end
    self.normalized_shape = size_arg(shape, #shape, "normalized_shape", "LayerNorm", 1)
    self.eps = positive(opts.eps or 1e-5, "eps", "LayerNorm")
    self.elementwise_affine = opts.elementwise_affine ~= false
    if self.elementwise_affine then
      local dt = {dtype = opts.dtype or "float32"}
      self.weight = M.Parameter(lunet.ones(self.normalized_shape, dt))
      self.bias = M.Parameter(lunet.zeros(self.normalized_shape, dt))
    end
  end
  function LayerNorm:forward(x)
    return lunet.layer_norm(input(x, "LayerNorm"), self.normalized_shape, self.weight, self.bias, self.eps)
  end
  function LayerNorm:extra_repr()
    return format("%s, eps=%s, elementwise_affine=%s", pysize(self.normalized_shape),
                  pynum(self.eps), pybool(self.elementwise_affine))
  end

  local GroupNorm = M.Module("GroupNorm")
  M.GroupNorm = GroupNorm
  function GroupNorm:init(groups, channels, opts)
    opts = checkopts("GroupNorm", opts, {"eps", "affine", "dtype"})
    if math_type(groups) ~= "integer" or groups < 1 or math_type(channels) ~= "integer" or channels < 1 then
      raise(format("GroupNorm: num_groups and num_channels must be positive integers, got %s and %s",
                   tostring(groups), tostring(channels)))
    end
    if channels % groups ~= 0 then
      raise(format("GroupNorm: num_channels (%d) must be divisible by num_groups (%d)", channels, groups))
    end
    self.num_groups, self.num_channels = groups, channels
    self.eps = positive(opts.eps or 1e-5, "eps", "GroupNorm")
    self.affine = opts.affine ~= false
    if self.affine then
      local dt = {dtype = opts.dtype or "float32"}
      self.weight = M.Parameter(lunet.ones({channels}, dt))
      self.bias = M.Parameter(lunet.zeros({channels}, dt))
    end
  end
  function GroupNorm:forward(x)
    channels(input(x, "GroupNorm"), self.num_channels, "GroupNorm")
    return lunet.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
  end
  function GroupNorm:extra_repr()
    return format("%d, %d, eps=%s, affine=%s", self.num_groups, self.num_channels, pynum(self.eps),
                  pybool(self.affine))
  end

  -- ---- Dropout2d: whole channels, identity in eval mode ---------------------------------------

  local Dropout2d = M.Module("Dropout2d")
  M.Dropout2d = Dropout2d
  function Dropout2d:init(p, opts)
    opts = checkopts("Dropout2d", opts, {"generator"})
    if p == nil then p = 0.5 end
    if type(p) ~= "number" or not (p >= 0 and p <= 1) then
      raise("Dropout2d: dropout probability has to be between 0 and 1, got " .. tostring(p))
    end
    self.p, self.generator = p, opts.generator
  end
  function Dropout2d:forward(x)
    return lunet.dropout2d(input(x, "Dropout2d"), self.p, self.training, self.generator)
  end
  function Dropout2d:extra_repr() return "p=" .. pynum(self.p) end

  -- ---- average pooling ---------------------------------------------------------------------------

  -- AvgPool1d keeps its sizes as 1-tuples, AvgPool2d as given (PyTorch prints them so)
  local function avgpool_class(name, n, fn)
    local cls = M.Module(name)
    local allowed = {"stride", "padding", "ceil_mode", "count_include_pad"}
    if n == 2 then allowed[#allowed + 1] = "divisor_override" end
    function cls:init(k, opts)
      opts = checkopts(name, opts, allowed)
      local function one(v) return n == 1 and math_type(v) == "integer" and {v} or v end
      self.kernel_size = one(size_arg(k, n, "kernel_size", name, 1))
      self.stride = one(size_arg(opts.stride or k, n, "stride", name, 1))
      self.padding = one(size_arg(opts.padding or 0, n, "padding", name, 0))
      local ks, pd = self.kernel_size, self.padding
      for i = 1, n do
        local ki = type(ks) == "table" and ks[i] or ks
        local pi = type(pd) == "table" and pd[i] or pd
        if pi > ki // 2 then
          raise(format("%s: padding should be at most half of the kernel size, got padding %d and "
                       .. "kernel %d", name, pi, ki))
        end
      end
      self.ceil_mode = opts.ceil_mode and true or false
      self.count_include_pad = opts.count_include_pad ~= false
      if opts.divisor_override ~= nil then
        self.divisor_override = size_arg(opts.divisor_override, 1, "divisor_override", name, 1)
      end
    end
    function cls:forward(x)
      return fn(input(x, name), self.kernel_size, {stride = self.stride, padding = self.padding,
                                      ceil_mode = self.ceil_mode,
                                      count_include_pad = self.count_include_pad,
                                      divisor_override = self.divisor_override})
    end
    function cls:extra_repr()
      return format("kernel_size=%s, stride=%s, padding=%s", pysize(self.kernel_size),
                    pysize(self.stride), pysize(self.padding))
    end
    M[name] = cls
  end
  avgpool_class("AvgPool1d", 1, lunet.avg_pool1d)
  avgpool_class("AvgPool2d", 2, lunet.avg_pool2d)

  -- ---- adaptive pooling ------------------------------------------------------------------------

  local function adaptive_class(name, fn, allowed)
    local cls = M.Module(name)
    function cls:init(size, opts)
      opts = checkopts(name, opts, allowed)
      self.output_size = size_arg(size, 2, "output_size", name, 1)
      self.return_indices = opts.return_indices and true or false
    end
    function cls:forward(x) return fn(input(x, name), self.output_size, self.return_indices) end
    function cls:extra_repr() return "output_size=" .. pysize(self.output_size) end
    M[name] = cls
  end
  adaptive_class("AdaptiveAvgPool2d", lunet.adaptive_avg_pool2d, {})
  adaptive_class("AdaptiveMaxPool2d", lunet.adaptive_max_pool2d, {"return_indices"})

  -- ---- Upsample: interpolate with fixed options --------------------------------------------------

  local MODES = {nearest = true, linear = true, bilinear = true}
  local Upsample = M.Module("Upsample")
  M.Upsample = Upsample
  function Upsample:init(opts)
    if opts == nil then raise("Upsample: give either size or scale_factor") end
    opts = checkopts("Upsample", opts, {"size", "scale_factor", "mode", "align_corners"})
    local mode = opts.mode or "nearest"
    if not MODES[mode] then
      raise(format("Upsample: mode must be \"nearest\", \"linear\" or \"bilinear\", got %s",
                   type(mode) == "string" and '"' .. mode .. '"' or tostring(mode)))
    end
    if (opts.size == nil) == (opts.scale_factor == nil) then
      raise("Upsample: give either size or scale_factor" .. (opts.size ~= nil and ", not both" or ""))
    end
    if mode == "nearest" and opts.align_corners ~= nil then
      raise("Upsample: align_corners can only be set with the linear modes (linear, bilinear)")
    end
    if opts.size ~= nil then
      local n = type(opts.size) == "table" and #opts.size == 1 and 1 or 2
      self.size = size_arg(opts.size, n, "size", "Upsample", 1)
    else
      local s = opts.scale_factor
      local ok = type(s) == "number" and s > 0
      if type(s) == "table" and (#s == 1 or #s == 2) then
        ok = true
        for i = 1, #s do ok = ok and type(s[i]) == "number" and s[i] > 0 end
        local c = {}
        for i = 1, #s do c[i] = s[i] end
        s = c
      end
      if not ok then
        raise("Upsample: scale_factor must be a positive number or a table of positive numbers, got "
              .. tostring(opts.scale_factor))
      end
      self.scale_factor = s
    end
    self.mode = mode
    if opts.align_corners ~= nil then self.align_corners = opts.align_corners and true or false end
  end
  -- the spatial dims of x must agree with the mode and with a table size or scale_factor
  function Upsample:forward(x)
    local n = input(x, "Upsample"):dim() - 2
    local given = self.size or self.scale_factor
    if n ~= 1 and n ~= 2 or (self.mode == "bilinear" and n ~= 2) or (self.mode == "linear" and n ~= 1)
       or (type(given) == "table" and #given ~= n) then
      local want = self.mode == "bilinear" and "a 4-D input [N, C, H, W]"
                   or self.mode == "linear" and "a 3-D input [N, C, L]"
                   or type(given) == "table" and (#given == 1 and "a 3-D input [N, C, L]" or "a 4-D input [N, C, H, W]")
                   or "a 3-D or 4-D input"
      raise(format("Upsample: mode %s with %s %s needs %s, got %s", self.mode,
                   self.size and "size" or "scale_factor", pysize(given, self.size == nil), want,
                   shapestr(x)))
    end
    return lunet.interpolate(x, {size = self.size, scale_factor = self.scale_factor, mode = self.mode,
                                 align_corners = self.align_corners})
  end
  function Upsample:extra_repr()
    local info = self.scale_factor ~= nil and "scale_factor=" .. pysize(self.scale_factor, true)
                 or "size=" .. pysize(self.size)
    return info .. ", mode=" .. self.mode
  end

  F.batch_norm, F.layer_norm, F.group_norm = lunet.batch_norm, lunet.layer_norm, lunet.group_norm
  F.dropout2d, F.interpolate = lunet.dropout2d, lunet.interpolate
  F.avg_pool1d, F.avg_pool2d = lunet.avg_pool1d, lunet.avg_pool2d
  F.adaptive_avg_pool2d, F.adaptive_max_pool2d = lunet.adaptive_avg_pool2d, lunet.adaptive_max_pool2d
end
