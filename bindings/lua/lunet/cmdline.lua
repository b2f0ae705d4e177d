-- lunet/cmdline.lua: lunet.CmdLine, Torch7's torch.CmdLine for scripts' options.
--
--   local cmd = lunet.CmdLine()
--   cmd:text("Train a character-level language model")
--   cmd:argument("mode", "train or sample", "train")       -- optional positional, with default
--   cmd:option("--rnn_size", 128, "size of the LSTM's hidden state")
--   cmd:option("--gpu", false, "a flag: --gpu alone sets it, --gpu false clears it")
--   local opt = cmd:parse(arg)      -- nil after printing the help for --help / -h
--   if not opt then return end
--
-- A value takes the type of its option's default (a number, a string or a boolean); `-name`
-- and `--name` are the same, `--name=value` works too. An unknown option, a missing or
-- malformed value raises an error at the caller's line that names it (and the help shows
-- every option with its default).
local util = require "lunet.util"
local raise = util.raise

local CmdLine = {}
CmdLine.__index = CmdLine
CmdLine.__name = "lunet.CmdLine"

local function new()
  return setmetatable({texts = {}, options = {}, order = {}, args = {}}, CmdLine)
end

local function checkself(self, fname)
  if getmetatable(self) ~= CmdLine then
    raise("CmdLine:" .. fname .. ": call it with ':' on a CmdLine (cmd:" .. fname .. "(...))")
  end
end

--- cmd:text(s): a line of the help text (before the options)
function CmdLine:text(s)
  checkself(self, "text")
  self.texts[#self.texts + 1] = s == nil and "" or tostring(s)
  return self
end

--- cmd:option(name, default, help): an option --name with its default (number, string, boolean)
function CmdLine:option(name, default, help)
  checkself(self, "option")
  if type(name) ~= "string" or not name:match("^%-%-?[%a_][%w_%-]*$") then
    raise("CmdLine:option: the name must be a string such as \"--epochs\", got " .. tostring(name))
  end
  local key = name:gsub("^%-%-?", "")
  local ty = type(default)
  if ty ~= "number" and ty ~= "string" and ty ~= "boolean" then
    raise("CmdLine:option: " .. name .. "'s default must be a number, a string or a boolean, got " .. ty)
  end
  if self.options[key] then raise("CmdLine:option: " .. name .. " is defined twice") end
  self.options[key] = {default = default, help = help or "", type = ty}
  self.order[#self.order + 1] = key
  return self
end

--- cmd:argument(name, help [, default]): a positional argument (required when default is nil)
function CmdLine:argument(name, help, default)
  checkself(self, "argument")
  if type(name) ~= "string" then raise("CmdLine:argument: the name must be a string") end
  self.args[#self.args + 1] = {name = name, help = help or "", default = default}
  return self
end

local function fmtdefault(v)
  if type(v) == "string" then return ("%q"):format(v) end
  return tostring(v)
end

--- cmd:help(): the usage text (what --help prints)
function CmdLine:help(script)
  checkself(self, "help")
  local out = {}
  for _, t in ipairs(self.texts) do out[#out + 1] = t end
  local usage = "Usage: lunet " .. (script or "script.lua")
  for _, a in ipairs(self.args) do
    usage = usage .. (a.default ~= nil and (" [" .. a.name .. "]") or (" " .. a.name))
  end
  out[#out + 1] = usage .. " [options]"
  if #self.args > 0 then
    out[#out + 1] = "Arguments:"
    for _, a in ipairs(self.args) do
      local d = a.default ~= nil and ("  (default " .. fmtdefault(a.default) .. ")") or ""
      out[#out + 1] = ("  %-24s %s%s"):format(a.name, a.help, d)
    end
  end
  out[#out + 1] = "Options:"
  for _, key in ipairs(self.order) do
    local o = self.options[key]
    out[#out + 1] = ("  --%-22s %s  (default %s)"):format(key, o.help, fmtdefault(o.default))
  end
  out[#out + 1] = ("  --%-22s %s"):format("help", "print this help")
  return table.concat(out, "\n")
end

local function convert(key, o, s)
  if o.type == "number" then
    local v = tonumber(s)
    if v == nil then raise("--" .. key .. " wants a number, got '" .. s .. "'") end
    return v
  elseif o.type == "boolean" then
    if s == "true" or s == "1" then return true end
    if s == "false" or s == "0" then return false end
    raise("--" .. key .. " wants true or false, got '" .. s .. "'")
  end
  return s
end

--- cmd:parse(arg) -> opt (a table: every option by its name, then the arguments), or nil after
--- printing the help when arg holds --help or -h
function CmdLine:parse(argv)
  checkself(self, "parse")
  argv = argv or {}
  if type(argv) ~= "table" then raise("CmdLine:parse: arg must be a table, got " .. type(argv)) end
  local opt, positional, i = {}, {}, 1
  for key, o in pairs(self.options) do opt[key] = o.default end
  while i <= #argv do
    local a = tostring(argv[i])
    if a == "--help" or a == "-h" then
      print(self:help(argv[0]))
      return nil
    end
    local name, inline = a:match("^%-%-?([%a_][%w_%-]*)=(.*)$")
    name = name or a:match("^%-%-?([%a_][%w_%-]*)$")
    if name then
      local o = self.options[name]
      if o == nil then
        raise("unknown option " .. a .. " (--help lists the options)")
      end
      local v = inline
      if v == nil and o.type == "boolean" then
        local nxt = argv[i + 1]
        if nxt == "true" or nxt == "false" then v = nxt; i = i + 1 else v = "true" end
      elseif v == nil then
        v = argv[i + 1]
        if v == nil then raise("option " .. a .. " wants a value") end
        i = i + 1
      end
      opt[name] = convert(name, o, tostring(v))
    else
      positional[#positional + 1] = a
    end
    i = i + 1
  end
  if #positional > #self.args then
    raise("unexpected argument '" .. positional[#self.args + 1] .. "' (--help shows the usage)")
  end
  for k, a in ipairs(self.args) do
    local v = positional[k]
    if v == nil then
      if a.default == nil then raise("missing argument " .. a.name .. " (--help shows the usage)") end
      v = a.default
    end
    opt[a.name] = v
  end
  return opt
end

return setmetatable({}, {__call = function(_, ...) return new(...) end,
                         __index = CmdLine, __name = "lunet.CmdLine class"})
