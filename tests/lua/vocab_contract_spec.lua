-- vocab_contract_spec.lua: every name of the contract's "Tensor vocabulary (PyTorch parity)" section
-- (issue 13) exists as a tensor method and as a lunet.* function, and its linear algebra under
-- lunet.linalg, so a name cannot go missing from either surface unnoticed. The lists are the
-- contract's, group by group; the values of each op are checked in the vocab_*, linalg and slicing specs.
local lunet = require "lunet"

local contract = {
  ["element-wise"] = [[sin cos tan asin acos atan atan2 sinh cosh asinh acosh atanh floor ceil round trunc
    frac log1p expm1 log2 log10 exp2 erf erfc rsqrt reciprocal square softplus silu mish hardtanh lerp fmod
    remainder isnan isinf isfinite nan_to_num logical_and logical_or logical_not band bor bxor]],
  ["reductions and scans"] = [[all any norm logsumexp cumsum cumprod cummax median mode kthvalue
    count_nonzero var std aminmax]],
  ["sorting and selection"] = [[sort argsort topk unique nonzero]],
  ["gather/scatter and masks"] = [[gather scatter scatter_add index_add index_fill index_copy masked_fill
    masked_select masked_scatter take scatter_ scatter_add_ index_add_ index_fill_ index_copy_ masked_fill_
    masked_scatter_]],
  ["shape"] = [[chunk split unbind flip roll tile repeat_interleave tril triu diag diagonal trace movedim
    swapaxes meshgrid broadcast_to pad]],
  ["linear algebra"] = [[bmm baddbmm outer addmv mv cross]],
}
-- The equation comes first, so einsum is a function only (as torch.einsum: no Tensor.einsum).
local functions_only = {"einsum"}
local linalg = {"norm", "inv", "det", "solve", "cholesky"}

local function words(s)
  local r = {}
  for w in s:gmatch("%S+") do r[#r + 1] = w end
  return r
end

-- the values as text, so that NaN (acosh of 0.5) equals NaN
local function strings(r)
  local out = {}
  for i, v in ipairs(r:totable()) do out[i] = string.format("%.17g", v) end
  return out
end

describe("the vocabulary contract", function()
  local t = lunet.tensor{1, 2}

  for group, names in pairs(contract) do
    it(group .. ": every name is a tensor method and a lunet.* function", function()
      local missing = {}
      for _, name in ipairs(words(names)) do
        if type(t[name]) ~= "function" then missing[#missing + 1] = "Tensor:" .. name end
        if type(lunet[name]) ~= "function" then missing[#missing + 1] = "lunet." .. name end
      end
      assert.are.same({}, missing)
    end)
  end

  it("einsum is a lunet.* function, the rest of linear algebra is in lunet.linalg", function()
    local missing = {}
    for _, name in ipairs(functions_only) do
      if type(lunet[name]) ~= "function" then missing[#missing + 1] = "lunet." .. name end
    end
    for _, name in ipairs(linalg) do
      if type(lunet.linalg[name]) ~= "function" then missing[#missing + 1] = "lunet.linalg." .. name end
    end
    assert.are.same({}, missing)
  end)

  it("`repeat` (a Lua keyword) aliases tile", function()
    assert.are.same({1, 2, 1, 2}, t["repeat"](t, 2):totable())
    assert.are.same(t:tile(2):totable(), lunet.tile(t, 2):totable())
  end)

  it("the method and the function of a name compute the same thing", function()
    local x = lunet.tensor{0.5, -1.25, 2}
    for _, name in ipairs(words(contract["element-wise"])) do
      if not name:match("^b") and not name:match("^logical_[ao]") and name ~= "atan2" and name ~= "lerp"
          and name ~= "fmod" and name ~= "remainder" then
        assert.are.same(strings(x[name](x)), strings(lunet[name](x)), name)
      end
    end
    local g = lunet.meshgrid(lunet.tensor{1, 2}, lunet.tensor{3, 4, 5})
    local h = lunet.tensor{1, 2}:meshgrid(lunet.tensor{3, 4, 5})
    assert.are.same({{1, 1, 1}, {2, 2, 2}}, h[1]:totable())
    assert.are.same({{3, 4, 5}, {3, 4, 5}}, h[2]:totable())
    assert.are.same(g[1]:totable(), h[1]:totable())
    assert.are.same(g[2]:totable(), h[2]:totable())
  end)
end)
