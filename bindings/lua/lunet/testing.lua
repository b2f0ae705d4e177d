-- lunet/testing.lua: gradient checking against central finite differences.
--
--   local ok, err = testing.gradcheck(function(a, b) return (a * b):sum() end,
--                                     {lunet.randn(3, {dtype = "float64", requires_grad = true}),
--                                      lunet.randn(3, {dtype = "float64", requires_grad = true})})
--
-- The analytic gradient is that of sum(out * w) for fixed random weights w in [0.5, 1.5)
-- (one backward covers every output element); the numeric one perturbs each element of each
-- input that requires grad by ±eps in place, with autograd off, and restores it.
-- An element passes when |analytic - numeric| <= atol + rtol·|numeric| (PyTorch's rule).
-- max_error is the largest |analytic - numeric| / max(1, |numeric|): relative where the
-- gradient is large, absolute where it is small.

local lunet = require "lunet"

local abs, max, format, pack, unpack = math.abs, math.max, string.format, table.pack,
      table.unpack
local error, getmetatable, ipairs, next, pairs, type = error, getmetatable, ipairs, next,
      pairs, type

local M = {}

_ENV = nil

local function is_tensor(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return mt and mt.__name == "lunet.Tensor" or false
end

--- gradcheck(fn, inputs [, {eps = 1e-6, atol = 1e-5, rtol = 1e-3, seed = 0}])
--- → ok, max_error, message (message names the first failing element when not ok).
--- inputs: an array of arguments (or a single tensor); tensors that require grad must be
--- float64 and contiguous. fn returns one or more tensors (float64).
function M.gradcheck(fn, inputs, opts)
  opts = opts or {}
  local eps, atol, rtol = opts.eps or 1e-6, opts.atol or 1e-5, opts.rtol or 1e-3
  if is_tensor(inputs) then inputs = {inputs} end
  if type(inputs) ~= "table" then
    error("gradcheck: inputs must be a tensor or an array of arguments, got " .. type(inputs), 2)
  end
  local n = inputs.n or #inputs
  local checked = {}
  for i = 1, n do
    local x = inputs[i]
    if is_tensor(x) and x:requires_grad() then
      if x:dtype() ~= "float64" then
        error(format("gradcheck: input %d is %s; finite differences need float64", i,
                     x:dtype()), 2)
      end
      checked[#checked + 1] = i
    end
  end
  if #checked == 0 then error("gradcheck: no input requires grad", 2) end

  local gen = lunet.Generator(opts.seed or 0)
  local outs = pack(fn(unpack(inputs, 1, n)))
  local weights = {}
  for k = 1, outs.n do
    local o = outs[k]
    if is_tensor(o) then
      if o:dtype() ~= "float64" then
        error(format("gradcheck: output %d is %s; use float64 inputs and ops", k, o:dtype()), 2)
      end
      weights[k] = lunet.rand(o:numel(), {dtype = "float64", generator = gen}) + 0.5
    end
  end
  if not next(weights) then error("gradcheck: fn returned no tensor", 2) end

  -- sum over outputs of sum(out * w), a 0-d tensor
  local function objective(o)
    local total
    for k, w in pairs(weights) do
      local term = (o[k]:reshape(-1) * w):sum()
      total = total and total + term or term
    end
    return total
  end

  -- analytic
  for _, i in ipairs(checked) do
    local g = inputs[i].grad
    if g then g:zero_() end
  end
  local obj = objective(outs)
  local analytic = {}
  if obj:requires_grad() then obj:backward() end
  for _, i in ipairs(checked) do
    local g = inputs[i].grad
    analytic[i] = g and g:reshape(-1):totable() or {}
  end

  -- numeric, and the comparison
  local ok, max_err, msg = true, 0.0, nil
  lunet.no_grad(function()
    for _, i in ipairs(checked) do
      local x = inputs[i]
      local flat = x:view(-1)
      for j = 1, x:numel() do
        local v = flat[j]
        flat[j] = v + eps
        local fp = objective(pack(fn(unpack(inputs, 1, n)))):item()
        flat[j] = v - eps
        local fm = objective(pack(fn(unpack(inputs, 1, n)))):item()
        flat[j] = v
        local num = (fp - fm) / (2 * eps)
        local ana = analytic[i][j] or 0.0
        local diff = abs(ana - num)
        local err = diff / max(1.0, abs(num))
        if err > max_err or err ~= err then max_err = err end
        if not (diff <= atol + rtol * abs(num)) and ok then
          ok = false
          msg = format("input %d element %d: analytic %.10g, numeric %.10g", i, j, ana, num)
        end
      end
    end
  end)
  return ok, max_err, msg
end

return M
