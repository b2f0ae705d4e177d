-- scripts/attention.lua: single-head scaled dot-product attention with a causal mask, as a
-- PyTorch user writes it (einsum, masked_fill, softmax, matmul), forward and backward, checked
-- against the same computation written as plain loops over Lua numbers, gradients included
-- (derived by hand: softmax's backward is dS = P ∘ (dP - rowsum(P ∘ dP))). Prints the largest
-- difference of the output and of each gradient and exits non-zero if one passes the tolerance.
--
--   lunet scripts/attention.lua [T = 7] [d = 5] [seed = 0]
local lunet = require "lunet"

local T = math.tointeger(tonumber(arg and arg[1]) or 7)
local d = math.tointeger(tonumber(arg and arg[2]) or 5)
local seed = math.tointeger(tonumber(arg and arg[3]) or 0)
assert(T and T >= 1 and d and d >= 1 and seed, "usage: lunet scripts/attention.lua [T] [d] [seed]")
local TOL = 1e-10
lunet.manual_seed(seed)

local f64 = {dtype = "float64", requires_grad = true}
local q, k, v = lunet.randn(T, d, f64), lunet.randn(T, d, f64), lunet.randn(T, d, f64)
local w = lunet.randn(T, d, {dtype = "float64"})         -- the loss is sum(out * w)

-- ---- Lunet, line by line as in PyTorch ------------------------------------------------------
local scores = lunet.einsum("qd,kd->qk", q, k) / math.sqrt(d)
local future = lunet.ones(T, T, {dtype = "float64"}):triu(1)      -- 1 where key j > query i
local p = scores:masked_fill(future, -math.huge):softmax(2)
local out = p:matmul(v)
local loss = (out * w):sum()
loss:backward()

-- ---- the naive loops --------------------------------------------------------------------------
local Q, K, V, W = q:totable(), k:totable(), v:totable(), w:totable()
local scale = 1 / math.sqrt(d)
local P, O = {}, {}
for i = 1, T do
  local s, m = {}, -math.huge
  for j = 1, i do                                        -- keys up to the query (causal)
    local acc = 0
    for c = 1, d do acc = acc + Q[i][c] * K[j][c] end
    s[j] = acc * scale
    m = math.max(m, s[j])
  end
  local z = 0
  for j = 1, i do s[j] = math.exp(s[j] - m); z = z + s[j] end
  P[i] = {}
  for j = 1, T do P[i][j] = j <= i and s[j] / z or 0 end
  O[i] = {}
  for c = 1, d do
    local acc = 0
    for j = 1, i do acc = acc + P[i][j] * V[j][c] end
    O[i][c] = acc
  end
end
local function zeros() local z = {} for i = 1, T do z[i] = {} for c = 1, d do z[i][c] = 0 end end return z end
local dQ, dK, dV = zeros(), zeros(), zeros()
for i = 1, T do
  local dP, dot = {}, 0
  for j = 1, i do
    local acc = 0
    for c = 1, d do
      acc = acc + W[i][c] * V[j][c]
      dV[j][c] = dV[j][c] + P[i][j] * W[i][c]
    end
    dP[j] = acc
    dot = dot + P[i][j] * acc
  end
  for j = 1, i do
    local ds = P[i][j] * (dP[j] - dot) * scale
    for c = 1, d do
      dQ[i][c] = dQ[i][c] + ds * K[j][c]
      dK[j][c] = dK[j][c] + ds * Q[i][c]
    end
  end
end

-- ---- the comparison ----------------------------------------------------------------------------
local function maxdiff(t, ref)
  local got, m = t:totable(), 0
  for i = 1, T do for c = 1, d do m = math.max(m, math.abs(got[i][c] - ref[i][c])) end end
  return m
end
local worst = 0
for _, row in ipairs{{"output", out, O}, {"grad q", q.grad, dQ}, {"grad k", k.grad, dK}, {"grad v", v.grad, dV}} do
  local m = maxdiff(row[2], row[3])
  worst = math.max(worst, m)
  print(("%-7s max abs diff %.3g"):format(row[1], m))
end
if not (worst <= TOL) then
  io.stderr:write(("attention.lua: a difference of %.3g passes the tolerance %g\n"):format(worst, TOL))
  os.exit(1)
end
print(("attention T=%d d=%d: Lunet matches the loops within %g"):format(T, d, TOL))
