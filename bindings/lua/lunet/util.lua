-- lunet/util.lua: small helpers shared by the pure-Lua modules (data, metrics). Internal.
local table, type, pairs, ipairs, tostring, error = table, type, pairs, ipairs, tostring, error
local M = {}
_ENV = nil

-- "[2, 3]" for error messages
function M.shapestr(t)
  return "[" .. table.concat(t:shape(), ", ") .. "]"
end

-- Raises on an option key not in allowed (a list of names) or a non-table opts; the error
-- points at the caller of the public function that called this (level 3).
function M.checkopts(fname, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(fname .. ": options must be a table, got " .. type(opts), 3)
  end
  for k in pairs(opts) do
    local ok = false
    for _, a in ipairs(allowed) do if k == a then ok = true break end end
    if not ok then error(fname .. ": unknown option '" .. tostring(k) .. "'", 3) end
  end
  return opts
end

return M
