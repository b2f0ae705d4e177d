-- lunet/util.lua: small helpers shared by the pure-Lua modules (data, metrics, the layers). Internal.
local table, string, type, pairs, ipairs, tostring, error, math_type =
      table, string, type, pairs, ipairs, tostring, error, math.type
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

-- A layer's size option (kernel_size, stride, ...) as given: an integer >= lo, or a table of n
-- of them, copied so the caller's later changes do not reach the layer; cls and what name it in
-- errors
function M.size_option(v, n, what, cls, lo)
  if math_type(v) == "integer" then
    if v < lo then M.raise(string.format("%s: %s must be >= %d, got %d", cls, what, lo, v)) end
    return v
  end
  if type(v) ~= "table" or #v ~= n then
    M.raise(string.format("%s: %s must be an integer or a table of %d integers, got %s", cls, what,
                          n, type(v) == "table" and ("a table of " .. #v) or type(v)))
  end
  local t = {}
  for i = 1, n do
    if math_type(v[i]) ~= "integer" or v[i] < lo then
      M.raise(string.format("%s: %s must be integers >= %d, got %s", cls, what, lo, tostring(v[i])))
    end
    t[i] = v[i]
  end
  return t
end

return M
