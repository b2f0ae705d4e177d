-- lunet/linalg.lua: lunet.linalg, PyTorch's torch.linalg for dense matrices: inv, det, solve,
-- cholesky, svdvals (LAPACK, in C: lunet._linalg), vector_norm, matrix_norm and norm, which picks one of
-- them from its arguments as torch.linalg.norm does.
local lunet = require "lunet"
local C = lunet._linalg
local error, math, tostring, type = error, math, tostring, type
local M = {}
_ENV = nil

M.inv, M.det, M.solve, M.cholesky, M.svdvals = C.inv, C.det, C.solve, C.cholesky, C.svdvals
M.vector_norm, M.matrix_norm = C.vector_norm, C.matrix_norm

-- a matrix ord as matrix_norm names it
local MATRIX_ORD = {[1] = "1", [-1] = "-1", [math.huge] = "inf", [-math.huge] = "-inf",
                    fro = "fro", nuc = "nuc", [2] = "2", [-2] = "-2"}

--- linalg.norm(A [, ord [, dim [, keepdim]]]): torch.linalg.norm. No ord and no dim: the 2-norm
--- of all elements; a string ord, or a number ord with a 2-D A (or two dims), a matrix norm;
--- otherwise a vector norm over dim.
function M.norm(A, ord, dim, keepdim)
  local two = type(dim) == "table" and #dim == 2
  if ord == nil then
    return C.vector_norm(A, 2, dim, keepdim)
  end
  local matrix = type(ord) == "string" or two or (dim == nil and lunet.is_tensor(A) and A:dim() == 2)
  if matrix then
    local m = MATRIX_ORD[ord]
    if m == nil then
      error("linalg.norm: ord " .. tostring(ord) .. " is not a matrix norm (\"fro\", \"nuc\", 1, -1, 2, -2, "
            .. "math.huge, -math.huge)", 2)
    end
    if dim == nil and A:dim() ~= 2 then
      error("linalg.norm: a matrix ord needs a 2-D tensor or dim = {d1, d2}, got " .. A:dim() .. " dims", 2)
    end
    return C.matrix_norm(A, m, dim, keepdim)
  end
  if type(ord) ~= "number" then
    error("linalg.norm: ord must be a number or a string, got " .. type(ord), 2)
  end
  if dim == nil and lunet.is_tensor(A) and A:dim() > 2 then
    error("linalg.norm: a number ord without dim needs a 1-D or 2-D tensor, got " .. A:dim() .. " dims", 2)
  end
  return C.vector_norm(A, ord, dim, keepdim)
end

return M
