-- lunet/util.lua: small helpers shared by the pure-Lua modules (data, metrics). Internal.
local table, type, pairs, ipairs, tostring, error = table, type, pairs, ipairs, tostring, error
local debug = debug
local M = {}

-- The folder of Lunet's Lua modules ("@/…/lunet/"): frames there are the library's, not the user's.
local DIR = debug and debug.getinfo(1, "S").source:match("^(@.*[/\\])[^/\\]*$")
_ENV = nil

-- Raises msg at the user's line: the first Lua frame outside Lunet's modules, however deep
-- inside them the check ran (a fixed level names …/lunet/data.lua when a helper calls a
-- helper). Without the debug library (a host may leave it out) the caller's caller is named.
function M.raise(msg)
  if DIR then
    local level = 2
    while true do
      local info = debug.getinfo(level, "S")
      if info == nil then break end
      if info.what ~= "C" and info.source:sub(1, #DIR) ~= DIR then
        error(msg, level)
      end
      level = level + 1
    end
  end
  error(msg, 3)
end

-- "[2, 3]" for error messages
function M.shapestr(t)
  return "[" .. table.concat(t:shape(), ", ") .. "]"
end

-- Raises on an option key not in allowed (a list of names) or a non-table opts.
function M.checkopts(fname, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    M.raise(fname .. ": options must be a table, got " .. type(opts))
  end
  for k in pairs(opts) do
    local ok = false
    for _, a in ipairs(allowed) do if k == a then ok = true break end end
    if not ok then M.raise(fname .. ": unknown option '" .. tostring(k) .. "'") end
  end
  return opts
end

return M
