-- lunet/nn_conv.lua: the convolution and max-pooling layers of lunet.nn (Conv1d, Conv2d,
-- ConvTranspose2d, MaxPool1d, MaxPool2d) and their functional forms, Lua classes over
-- lunet.conv1d/conv2d/conv_transpose2d and lunet.max_pool1d/2d (runtime/ops_conv.c,
-- ops_pool.c). Parameter names, layouts and initialization are PyTorch's, so a state_dict
-- saved from PyTorch loads and predicts the same.
--
-- nn.lua calls this module's function with its own table M once M is complete.

local lunet = require "lunet"
local util = require "lunet.util"

local ipairs, math_type, sqrt, tostring, type, format, concat =
      ipairs, math.type, math.sqrt, tostring, type, string.format, table.concat

_ENV = nil

-- A size option as a table of n integers (a number repeated), checked >= lo
local function sizes(v, n, what, cls, lo)
  v = util.size_option(v, n, what, cls, lo)
  if type(v) == "table" then return v end
  local t = {}
  for i = 1, n do t[i] = v end
  return t
end

local function show(t) return #t == 1 and format("(%d,)", t[1]) or "(" .. concat(t, ", ") .. ")" end

return function(M)
  local init = M.init

  -- ---- convolutions ---------------------------------------------------------------------------

  -- A conv class over n spatial dims: weight [out, in/groups, k...] (transposed: [in,
  -- out/groups, k...]), PyTorch's reset_parameters (kaiming_uniform(a = √5), bias U(±1/√fan_in))
  local function conv_class(name, n, fn, transposed)
    local cls = M.Module(name)
    function cls:init(cin, cout, k, opts)
      opts = util.checkopts(name, opts, {"stride", "padding", "dilation", "groups", "bias",
                                         "output_padding", "dtype", "generator"})
      if not transposed and opts.output_padding ~= nil then
        util.raise(name .. ": unknown option 'output_padding'")
      end
      if math_type(cin) ~= "integer" or cin < 1 or math_type(cout) ~= "integer" or cout < 1 then
        util.raise(format("%s: in_channels and out_channels must be positive integers, got %s and %s",
                          name, tostring(cin), tostring(cout)), 3)
      end
      local groups = opts.groups or 1
      if math_type(groups) ~= "integer" or groups < 1 or cin % groups ~= 0 or cout % groups ~= 0 then
        util.raise(format("%s: groups (%s) must divide in_channels (%d) and out_channels (%d)", name,
                          tostring(groups), cin, cout), 3)
      end
      self.in_channels, self.out_channels, self.groups = cin, cout, groups
      self.kernel_size = sizes(k, n, "kernel_size", name, 1)
      self.stride = sizes(opts.stride or 1, n, "stride", name, 1)
      self.dilation = sizes(opts.dilation or 1, n, "dilation", name, 1)
      local pad = opts.padding or 0
      if pad == "same" or pad == "valid" then
        if transposed then util.raise(name .. ": padding must be sizes, got \"" .. pad .. "\"") end
        if pad == "same" then
          for i = 1, n do
            if self.stride[i] ~= 1 then util.raise(name .. ": padding \"same\" needs stride 1") end
          end
        end
        self.padding = pad
      else
        self.padding = sizes(pad, n, "padding", name, 0)
      end
      if transposed then self.output_padding = sizes(opts.output_padding or 0, n, "output_padding", name, 0) end
      local shape = transposed and {cin, cout // groups} or {cout, cin // groups}
      for i = 1, n do shape[#shape + 1] = self.kernel_size[i] end
      local dtype, gen = opts.dtype or "float32", opts.generator
      self.weight = M.Parameter(lunet.zeros(shape, {dtype = dtype}))
      init.kaiming_uniform_(self.weight, {a = sqrt(5), generator = gen})
      if opts.bias ~= false then
        local fan_in = shape[2]
        for i = 3, #shape do fan_in = fan_in * shape[i] end
        local bound = fan_in > 0 and 1 / sqrt(fan_in) or 0
        self.bias = M.Parameter(lunet.zeros({cout}, {dtype = dtype}))
        init.uniform_(self.bias, -bound, bound, gen)
      end
    end
    function cls:forward(x)
      local o = {stride = self.stride, padding = self.padding, dilation = self.dilation,
                 groups = self.groups, output_padding = self.output_padding}
      return fn(x, self.weight, self.bias, o)
    end
    function cls:extra_repr()
      local s = format("%d, %d, kernel_size=%s, stride=%s", self.in_channels, self.out_channels,
                       show(self.kernel_size), show(self.stride))
      local pad = self.padding
      if type(pad) == "string" then s = s .. ", padding=" .. pad
      else
        for _, v in ipairs(pad) do if v ~= 0 then s = s .. ", padding=" .. show(pad); break end end
      end
      for _, v in ipairs(self.dilation) do if v ~= 1 then s = s .. ", dilation=" .. show(self.dilation); break end end
      if self.groups ~= 1 then s = s .. ", groups=" .. self.groups end
      if self.bias == nil then s = s .. ", bias=False" end
      return s
    end
    M[name] = cls
  end
  conv_class("Conv1d", 1, lunet.conv1d, false)
  conv_class("Conv2d", 2, lunet.conv2d, false)
  conv_class("ConvTranspose2d", 2, lunet.conv_transpose2d, true)

  -- ---- max pooling ----------------------------------------------------------------------------

  local function pool_class(name, n, fn)
    local cls = M.Module(name)
    function cls:init(k, opts)
      opts = util.checkopts(name, opts, {"stride", "padding", "dilation", "ceil_mode",
                                         "return_indices"})
      self.kernel_size = sizes(k, n, "kernel_size", name, 1)
      self.stride = sizes(opts.stride or k, n, "stride", name, 1)
      self.padding = sizes(opts.padding or 0, n, "padding", name, 0)
      self.dilation = sizes(opts.dilation or 1, n, "dilation", name, 1)
      for i = 1, n do
        if self.padding[i] > self.kernel_size[i] // 2 then
          util.raise(format("%s: padding should be at most half of the kernel size, got padding %d "
                            .. "and kernel %d", name, self.padding[i], self.kernel_size[i]), 3)
        end
      end
      self.ceil_mode = opts.ceil_mode and true or false
      self.return_indices = opts.return_indices and true or false
    end
    function cls:forward(x)
      return fn(x, self.kernel_size, {stride = self.stride, padding = self.padding,
                                      dilation = self.dilation, ceil_mode = self.ceil_mode,
                                      return_indices = self.return_indices})
    end
    function cls:extra_repr()
      return format("kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=%s",
                    show(self.kernel_size), show(self.stride), show(self.padding),
                    show(self.dilation), self.ceil_mode and "True" or "False")
    end
    M[name] = cls
  end
  pool_class("MaxPool1d", 1, lunet.max_pool1d)
  pool_class("MaxPool2d", 2, lunet.max_pool2d)

  local F = M.functional
  F.conv1d, F.conv2d, F.conv_transpose2d = lunet.conv1d, lunet.conv2d, lunet.conv_transpose2d
  F.max_pool1d, F.max_pool2d = lunet.max_pool1d, lunet.max_pool2d
end
