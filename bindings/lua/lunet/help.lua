-- lunet/help.lua: help(x) and the REPL's printing of values.
--
--   help()                   how to use help, and the modules
--   help(lunet.zeros)        a function, method, layer or module: signature and description
--   help("nn.Linear")        the same by name; in the REPL `?nn.Linear` is help("nn.Linear")
--   help(t)                  a value (tensor, module, optimizer): its type and its methods
--
-- One source: the text comes from docs/API.md, read when help is first asked for, so the
-- reference and help cannot say different things. tests/lua/help_spec.lua walks every public
-- table (help.public_names) and fails when a name has no entry in API.md.
--
-- API.md is found next to this file once installed (<luadir>/lunet/API.md) and in the
-- source tree (bindings/lua/lunet/ -> docs/API.md).

local lunet = require "lunet"
local debug, io, math, package, string, table = debug, io, math, package, string, table
local require = require
local error, getmetatable, ipairs, load, next, pairs, pcall, rawget, select, tostring, type =
      error, getmetatable, ipairs, load, next, pairs, pcall, rawget, select, tostring, type
local write = io.write
local M = {}
_ENV = nil

-- ---- finding and indexing API.md ---------------------------------------------------------------

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function api_paths()
  local paths = {}
  local src = debug.getinfo(1, "S").source
  local here = src:sub(1, 1) == "@" and src:sub(2):match("^(.*)[/\\][^/\\]*$")
  if here then
    paths[#paths + 1] = here .. "/API.md"                      -- installed
    paths[#paths + 1] = here .. "/../../../docs/API.md"        -- source tree
  end
  local cfg = package.loaded["lunet.config"]
  if type(cfg) == "table" and type(cfg.lua_dir) == "string" then
    paths[#paths + 1] = cfg.lua_dir .. "/lunet/API.md"
    paths[#paths + 1] = cfg.lua_dir .. "/../../docs/API.md"
  end
  return paths
end

--- help.api_path() -> the path of the API.md that help reads, or nil
function M.api_path()
  for _, p in ipairs(api_paths()) do
    if exists(p) then return p end
  end
  return nil
end

-- Splits API.md into units (a bullet with its continuation lines, or a paragraph), each with
-- its section heading and the module the heading names (`lunet.nn` in "Layers (`lunet.nn`)").
local function units(text)
  local out, cur = {headings = {}}, nil
  local section, module = "", "lunet"
  local fence = false
  local function flush()
    if cur then out[#out + 1] = cur end
    cur = nil
  end
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^%s*```") then
      fence = not fence
      flush()
    elseif fence then -- example code: not a definition
    elseif line:match("^#+ ") then
      flush()
      section = line:gsub("^#+%s*", "")
      module = section:match("`(lunet[%w_.]*)`") or (section:match("^Tensors") and "lunet") or module
      out.headings[#out.headings + 1] = section
    elseif line:match("^%s*$") or line:match("^%-%-%-") then
      flush()
    elseif line:match("^[-*] ") then
      flush()
      cur = {text = line:sub(3), section = section, module = module}
    elseif cur then
      cur.text = cur.text .. " " .. line:gsub("^%s+", "")
    else
      cur = {text = line, section = section, module = module}
    end
  end
  flush()
  return out
end

-- The words a code span defines: the last part of a leading chain (`lunet.zeros(...)` ->
-- zeros, `t:size(d)` -> size, `mean_` -> mean_), and every word of a list (`add sub mul`).
local function span_names(span)
  local names = {}
  local chain = span:match("^[%a_][%w_]*[%.:%w_]*")
  if chain then
    local last = chain:match("([%a_][%w_]*)$")
    if last then names[#names + 1] = {name = last, chain = chain, sig = span} end
    -- the tables on the way name modules: `lunet.testing.gradcheck` documents lunet.testing too
    for prefix in chain:gmatch("()[.:]") do
      local pre = chain:sub(1, prefix - 1)
      local name = pre:match("([%a_][%w_]*)$")
      if name then names[#names + 1] = {name = name, chain = pre, sig = pre, weak = true} end
    end
  end
  local top = span:gsub("%b()", "")
  if top:match("^[%w_%s]+$") and top:match("%s") then
    for word, args in span:gmatch("([%a_][%w_]*)(%b())") do
      names[#names + 1] = {name = word, chain = word, sig = word .. args}
    end
    for word in top:gmatch("[%a_][%w_]*") do
      names[#names + 1] = {name = word, chain = word, sig = word}
    end
  end
  return names
end

local index_cache
local function index()
  if index_cache then return index_cache end
  local path = M.api_path()
  local byname = {}
  index_cache = {byname = byname, path = path, sections = {}}
  if not path then return index_cache end
  local f = io.open(path, "rb")
  local text = f:read("a")
  f:close()
  local all = units(text)
  for _, h in ipairs(all.headings) do  -- "Plots, progress (`lunet.plot`, `lunet.progress`)"
    for m in h:gmatch("`(lunet[%w_.]*)`") do
      if not index_cache.sections[m] then index_cache.sections[m] = h end
    end
  end
  for _, u in ipairs(all) do
    local pos = 1
    if not index_cache.sections[u.module] then index_cache.sections[u.module] = u.section end
    while true do
      local s, e, span = u.text:find("`([^`]+)`", pos)
      if not s then break end
      -- the sentence holding the span: from the last ". " before it to the next one after it
      local from = 1
      for p in u.text:sub(1, s - 1):gmatch("()%.%s+%u") do from = p + 2 end
      local to = u.text:find("%.%s+%u", e + 1) or #u.text
      local sentence = u.text:sub(from, to):gsub("`", ""):gsub("^%s+", "")
      if #sentence > 320 then sentence = sentence:sub(1, 317) .. "..." end
      for _, n in ipairs(span_names(span)) do
        local list = byname[n.name]
        if not list then list = {}; byname[n.name] = list end
        list[#list + 1] = {sig = n.sig, chain = n.chain, sentence = sentence, weak = n.weak,
                           section = u.section, module = u.module}
      end
      pos = e + 1
    end
  end
  return index_cache
end

-- The entry for name in module (e.g. "Linear" in "lunet.nn"; methods: module "Tensor", "Module"...)
local function lookup(name, module, kind)
  local list = index().byname[name]
  if not list then return nil end
  local best, bestscore = nil, -1
  local tail = module and module:match("([%w_]+)$")
  for _, e in ipairs(list) do
    local score = e.weak and -1 or 0
    if e.sig:find("(", 1, true) or e.sig == name then score = score + 1 end
    if module and e.module == module then score = score + 3 end
    if tail and e.chain:match("^" .. tail .. "[.:]") then score = score + 2 end
    if kind == "method" and e.chain:find(":", 1, true) then score = score + 1 end
    if e.chain == name and e.sig:find("(", 1, true) then score = score + 1 end
    if score > bestscore then best, bestscore = e, score end
  end
  return best
end

-- ---- the public surface --------------------------------------------------------------------------

local function public(k) return type(k) == "string" and k:match("^[%a][%w_]*$") ~= nil end

-- lunet's lazily loaded parts: lunet/autoload.lua's names where it exists (modules in lower
-- case, classes capitalised), so a part added there is walked, and has to be documented, at once
local SUBMODULES = {"nn", "optim", "data", "metrics", "plot", "progress", "testing"}
local CLASSES = {"MLPClassifier", "MLPRegressor"}
do
  local ok, auto = pcall(require, "lunet.autoload")
  if ok and type(auto) == "table" then
    local mods, classes = {}, {}
    for k in pairs(auto) do
      if type(k) == "string" then
        if k:match("^%u") then classes[#classes + 1] = k else mods[#mods + 1] = k end
      end
    end
    table.sort(mods)
    table.sort(classes)
    if #mods > 0 then SUBMODULES, CLASSES = mods, classes end
  end
end

-- The methods behind a value's __index, in one table: a table and the tables its own
-- metatable's __index leads to, or the tables a function __index holds as upvalues (how the
-- C types and nn.Module classes keep theirs).
local function methods_of(v)
  local all, seen = {}, {}
  local function collect(idx, depth)
    if depth > 8 or idx == nil or seen[idx] then return end
    seen[idx] = true
    if type(idx) == "table" then
      for k, f in pairs(idx) do
        if public(k) and type(f) == "function" and all[k] == nil then all[k] = f end
      end
      local mt = getmetatable(idx)
      if type(mt) == "table" then collect(rawget(mt, "__index"), depth + 1) end
    elseif type(idx) == "function" then
      for i = 1, 16 do
        local name, up = debug.getupvalue(idx, i)
        if not name then break end
        if type(up) == "table" then collect(up, depth + 1) end
      end
    end
  end
  local mt = getmetatable(v)
  if type(mt) == "table" then collect(rawget(mt, "__index"), 0) end
  return next(all) ~= nil and all or nil
end

local function samples()
  local nn, optim = lunet.nn, lunet.optim
  local p = lunet.zeros(1, {requires_grad = true})
  return {
    {"Tensor", lunet.ones(1)},
    {"Module", nn.Sequential(nn.Linear(1, 1))},
    {"Linear", nn.Linear(1, 1)},
    {"Optimizer", optim.SGD({p}, {lr = 0.1})},
  }
end

--- help.public_names() -> array of {name, qualified, module, kind, value}: every public
--- function and class of lunet and its submodules, and every method of tensors, modules and
--- optimizers (what help must explain)
function M.public_names()
  local out, seen = {}, {}
  local function add(tbl, prefix, module, kind)
    local keys = {}
    for k in pairs(tbl) do if public(k) then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = tbl[k]
      local q = prefix .. k
      if (type(v) == "function" or type(v) == "table") and not seen[q] then
        seen[q] = true
        out[#out + 1] = {name = k, qualified = q, module = module, kind = kind, value = v}
      end
    end
  end
  for _, s in ipairs(SUBMODULES) do
    seen["lunet." .. s] = true
    out[#out + 1] = {name = s, qualified = "lunet." .. s, module = "lunet", kind = "module",
                     value = lunet[s]}
  end
  for _, cls in ipairs(CLASSES) do
    seen["lunet." .. cls] = true
    out[#out + 1] = {name = cls, qualified = "lunet." .. cls, module = "lunet", kind = "class",
                     value = lunet[cls]}
  end
  add(lunet, "lunet.", "lunet", "function")
  for _, s in ipairs(SUBMODULES) do add(lunet[s], "lunet." .. s .. ".", "lunet." .. s, "function") end
  add(lunet.nn.init, "lunet.nn.init.", "lunet.nn", "function")
  add(lunet.nn.utils, "lunet.nn.utils.", "lunet.nn", "function")
  for _, s in ipairs(samples()) do
    local m = methods_of(s[2])
    if m then add(m, s[1] .. ":", s[1], "method") end
  end
  return out
end

-- Where help finds names for values: value -> public entry.
local reverse_cache
local function reverse()
  if reverse_cache then return reverse_cache end
  reverse_cache = {}
  for _, e in ipairs(M.public_names()) do
    if reverse_cache[e.value] == nil then reverse_cache[e.value] = e end
  end
  return reverse_cache
end

-- where the methods of each type are documented
local CLASS_MODULE = {Tensor = "lunet", Module = "lunet.nn", Linear = "lunet.nn",
                      Optimizer = "lunet.optim"}

--- help.doc(x) -> signature, description, section (nil when x has no entry in API.md); x a
--- public value or a name ("zeros", "lunet.nn.Linear", "Tensor:sum", "nn.init.zeros_")
function M.doc(x)
  local name, module, kind, qualified
  if type(x) == "string" then
    local chain = x:gsub("^lunet%.", "")
    name = chain:match("([%a_][%w_]*)$")
    local pre = chain:match("^(.*)[.:][%a_][%w_]*$")
    kind = chain:find(":", 1, true) and "method" or nil
    module = pre and (kind and pre or ("lunet." .. pre)) or "lunet"
    qualified = "lunet." .. chain
    if index().sections[qualified] then kind = "module" end
  else
    local e = reverse()[x]
    if not e then return nil end
    name, module, kind, qualified = e.name, e.module, e.kind, e.qualified
  end
  if not name then return nil end
  module = CLASS_MODULE[module] or module
  if kind == "module" then
    local section = index().sections[qualified]
    if section then return qualified, section, section end
  end
  local e = lookup(name, module, kind)
  if not e then return nil end
  return e.sig, e.sentence, e.section
end

-- ---- printing values ---------------------------------------------------------------------------

local is_tensor = lunet.is_tensor

local function shape_of(t)
  local ok, s = pcall(function() return "[" .. table.concat(t:shape(), ", ") .. "]" end)
  return ok and s or "[?]"
end

local function short(v)
  if is_tensor(v) then
    local ok, dt = pcall(v.dtype, v)
    return "tensor " .. (ok and dt or "?") .. " " .. shape_of(v)
  end
  if type(v) == "string" then return string.format("%q", v) end
  local mt = getmetatable(v)
  if type(v) == "table" and not (type(mt) == "table" and rawget(mt, "__tostring")) then return nil end
  local ok, s = pcall(tostring, v)
  s = ok and s or type(v)
  if type(v) ~= "number" and type(v) ~= "boolean" and v ~= nil then
    s = s:match("^[^\n]*")  -- a module's first line
  end
  return s
end

local function key_str(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then return k end
  return "[" .. (short(k) or tostring(k)) .. "]"
end

local MAX_ITEMS, MAX_DEPTH = 40, 4

local function sorted_keys(t)
  local n = #t
  local keys = {}
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return n, keys
end

local function render(v, indent, depth, seen, out)
  local s = short(v)
  if s then out[#out + 1] = s; return end
  if seen[v] then out[#out + 1] = "<cycle>"; return end
  if depth >= MAX_DEPTH then out[#out + 1] = "{...}"; return end
  seen[v] = true
  local n, keys = sorted_keys(v)
  local items, flat = {}, true
  local function item(k, val)
    local parts = {}
    render(val, indent .. "  ", depth + 1, seen, parts)
    local body = table.concat(parts)
    if body:find("\n", 1, true) then flat = false end
    items[#items + 1] = k and (key_str(k) .. " = " .. body) or body
  end
  local total = n + #keys
  local shown = 0
  for i = 1, n do
    if shown == MAX_ITEMS then break end
    item(nil, v[i]); shown = shown + 1
  end
  for _, k in ipairs(keys) do
    if shown == MAX_ITEMS then break end
    item(k, v[k]); shown = shown + 1
  end
  if total > shown then items[#items + 1] = "... (" .. (total - shown) .. " more)" end
  seen[v] = nil
  local line = "{" .. table.concat(items, ", ") .. "}"
  if #items == 0 then
    out[#out + 1] = "{}"
  elseif flat and #line + #indent <= 80 then
    out[#out + 1] = line
  else
    out[#out + 1] = "{\n" .. indent .. "  " .. table.concat(items, ",\n" .. indent .. "  ") ..
                    "\n" .. indent .. "}"
  end
end

--- help.pretty(v) -> string: v as the REPL shows it; tables nested and indented (tensors
--- inside them as "tensor float32 [2, 3]"), everything else through tostring
function M.pretty(v)
  if type(v) ~= "table" or short(v) then
    if is_tensor(v) or type(v) ~= "string" then return tostring(v) end
    return v
  end
  local out = {}
  render(v, "", 0, {}, out)
  return table.concat(out)
end

--- help.print_values(...): the REPL's printer (tab-separated, as Lua's print)
function M.print_values(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = M.pretty((select(i, ...))) end
  write(table.concat(parts, "\t"), "\n")
end

-- ---- help --------------------------------------------------------------------------------------

local function wrap(text, width, indent)
  local lines, line = {}, indent
  for word in text:gmatch("%S+") do
    if #line + #word + 1 > width and line ~= indent then
      lines[#lines + 1] = line
      line = indent
    end
    line = line == indent and (indent .. word) or (line .. " " .. word)
  end
  if line ~= indent then lines[#lines + 1] = line end
  return table.concat(lines, "\n")
end

local function names_line(tbl)
  local keys = {}
  for k in pairs(tbl) do if public(k) then keys[#keys + 1] = k end end
  table.sort(keys)
  return table.concat(keys, " ")
end

local INTRO = [[
help(x) or ?x shows what x is and how to call it: a function (help(lunet.zeros)), a layer
(?nn.Linear), a method (?Tensor:sum), a module (?lunet.optim) or a value (help(t)).
Modules: lunet (tensors, autograd, files), lunet.nn, lunet.optim, lunet.data, lunet.metrics,
lunet.plot, lunet.progress, lunet.testing; estimators lunet.MLPClassifier, lunet.MLPRegressor.
Tab completes names and fields (lunet.<Tab>, t:<Tab>). The reference is docs/API.md;
a tutorial is docs/guide.md.]]

local function class_of(v)
  if is_tensor(v) then return "Tensor" end
  local mt = getmetatable(v)
  local n = type(mt) == "table" and rawget(mt, "__name")
  if type(n) == "string" then return (n:gsub("^lunet%.", "")) end
  return nil
end

--- help.text(x) -> the text help(x) prints
function M.text(...)
  if select("#", ...) == 0 then return INTRO end
  local x = ...
  local label = type(x) == "string" and x or nil
  local value = x
  if label then  -- a name: evaluate it (`?lunet.zeros`, `?nn.Linear` with nn = lunet.nn)
    local chunk = load("return " .. label:gsub(":", "."), "=help", "t")
    local ok, v = false, nil
    if chunk then ok, v = pcall(chunk) end
    if not ok or v == nil then
      chunk = load("local lunet = ...; return lunet." .. label:gsub("^lunet%.", ""):gsub(":", "."),
                   "=help", "t")
      if chunk then ok, v = pcall(chunk, lunet) end
    end
    value = ok and v or nil
  end
  local rev = value ~= nil and reverse()[value]
  local title = label or (rev and rev.qualified)
  if value == M.help then return INTRO end
  if rev and rev.kind == "module" then
    local _, _, section = M.doc(rev.qualified)
    return rev.qualified .. (section and ("  (docs/API.md: " .. section .. ")") or "") .. "\n" ..
           wrap(names_line(value), 92, "  ")
  end
  local sig, desc, section = M.doc(rev and value or label or value)
  if sig then
    local out = (title or sig) .. "\n  " .. sig
    if desc and desc ~= "" then out = out .. "\n" .. wrap(desc, 92, "  ") end
    return out .. "\n  (docs/API.md: " .. section .. ")"
  end
  if value == lunet then
    return "lunet: tensors, autograd, files, threads\n" .. wrap(names_line(lunet), 92, "  ") ..
           "\n  submodules: " .. table.concat(SUBMODULES, " ") .. "\n  estimators: MLPClassifier MLPRegressor"
  end
  local cls = value ~= nil and class_of(value)
  if cls then
    local m = methods_of(value)
    local out = cls .. (is_tensor(value) and (" " .. short(value):gsub("^tensor ", "")) or "")
    if m then out = out .. "\n  methods: " .. wrap(names_line(m), 92, "  "):gsub("^%s+", "") end
    local base = CLASS_MODULE[cls] and cls or (lunet.nn.is_module(value) and "Module") or cls
    return out .. "\n  help(\"" .. base .. ":<method>\") for one of them"
  end
  if type(value) == "table" then return (title or "table") .. "\n" .. wrap(names_line(value), 92, "  ") end
  if index().path == nil then
    return "help: docs/API.md was not found (looked in " .. table.concat(api_paths(), ", ") .. ")"
  end
  return "help: no entry for " .. (label or tostring(value)) .. " in docs/API.md"
end

--- help.help([x]): prints help.text(x)
function M.help(...)
  write(M.text(...), "\n")
end

return M
