-- lunet/progress.lua: tqdm-like progress bars on stderr (lunet.progress).
--
--   for epoch in lunet.progress(20, {desc = "training", unit = "epoch"}) do … end
--   local bar = lunet.progress(data.batches(X, y, {batch_size = 64}), {desc = "epoch 1",
--                              total = math.ceil(n / 64), unit = "batch"})
--   for xb, yb in bar do
--     …
--     bar:set_postfix{loss = loss:item()}           -- shown after the rate: "loss=0.3127"
--   end
--
-- lunet.progress(what, opts) wraps a count n (yields 1..n), a Lua array (yields i, v as ipairs)
-- or an iterator function (yields what it yields: data.batches, io.lines, …) and returns a bar
-- that is itself the loop's iterator. A bar can also be driven by hand:
--   local bar = lunet.progress(nil, {total = 1000}); …; bar:update(10); …; bar:close()
-- The loop closes the bar when the iterator ends, and on break or error too (the bar is the
-- loop's to-be-closed value).
--
-- On a terminal (stderr a tty, TERM set and not "dumb") the line is redrawn in place at most
-- every mininterval (0.1 s) seconds:
--   "epoch 1:  42%|##########--------------| 126/300 [00:03<00:04, 38.2 batch/s, loss=0.3127]"
-- When stderr is not a terminal (a log, a pipe) nothing is drawn while the loop runs and one
-- plain line is written when it ends. With opts.quiet, or progress.quiet = true for the whole
-- program, nothing is written at all.
--
-- opts: desc, total (for an iterator function), unit ("it"), quiet, width (24), mininterval
-- (0.1), delay (seconds before the first draw, 0), plain (false: no final line off a terminal),
-- tty (overrides the terminal test), out (io.stderr), clock (lunet.clock). An option missing
-- from opts is taken from progress.defaults (empty: the values above), which also reaches the
-- bars that the estimators draw.

local lunet = require "lunet"
local raise = require("lunet.util").raise
local io, math, string, table, os = io, math, string, table, os
local setmetatable, getmetatable, type, pairs, ipairs, tostring, select =
  setmetatable, getmetatable, type, pairs, ipairs, tostring, select
local M = {quiet = false, defaults = {}}
_ENV = nil

local Bar = {}
Bar.__index = Bar

local function terminal()
  local term = os.getenv("TERM")
  if term == nil or term == "" or term == "dumb" then return false end
  local isatty = lunet._io and lunet._io.isatty
  return isatty ~= nil and isatty(2) == true
end

-- "00:07", "12:05", "1:02:03"
local function clocktext(s)
  if s ~= s or s == math.huge or s < 0 then return "?" end
  s = math.floor(s + 0.5)
  if s < 3600 then return ("%02d:%02d"):format(s // 60, s % 60) end
  return ("%d:%02d:%02d"):format(s // 3600, s % 3600 // 60, s % 60)
end

local function number(v)
  if math.type(v) == "integer" then return tostring(v) end
  local a = math.abs(v)
  if a ~= 0 and (a >= 1e5 or a < 1e-3) then return ("%.3e"):format(v) end
  return ("%.4f"):format(v)
end

local OPTS = {desc = true, total = true, unit = true, quiet = true, width = true,
  mininterval = true, delay = true, plain = true, tty = true, out = true, clock = true}

-- progress.new(total, opts): a bar driven by update/close (total may be nil: a count only).
function M.new(total, given)
  given = given or {}
  if type(given) ~= "table" then raise("progress: opts must be a table, got " .. type(given)) end
  local opts = {}
  for k, v in pairs(M.defaults) do opts[k] = v end
  for k, v in pairs(given) do
    if not OPTS[k] then raise("progress: unknown option '" .. tostring(k) .. "'") end
    opts[k] = v
  end
  if total ~= nil and (type(total) ~= "number" or total < 0 or total ~= total) then
    raise("progress: total must be a non-negative number, got " .. tostring(total))
  end
  local clock = opts.clock or lunet.clock or os.clock
  local quiet = opts.quiet
  if quiet == nil then quiet = M.quiet end
  local tty = opts.tty
  if tty == nil and not quiet then tty = terminal() end
  local now = clock()
  return setmetatable({
    total = total, n = 0, desc = opts.desc, unit = opts.unit or "it", width = opts.width or 24,
    mininterval = opts.mininterval or 0.1, delay = opts.delay or 0, plain = opts.plain ~= false,
    tty = tty == true, quiet = quiet == true, out = opts.out or io.stderr, clock = clock,
    start = now, last = -math.huge, drawn = false, closed = false, postfix = nil,
  }, Bar)
end

-- The text of the line at time now (exposed for tests).
function Bar:line(now)
  local n, total, elapsed = self.n, self.total, now - self.start
  local rate = elapsed > 0 and n / elapsed or 0
  local parts = {}
  if self.desc then parts[1] = self.desc .. ": " end
  local times
  if total and total > 0 then
    local frac = math.min(n / total, 1)
    local k = math.floor(frac * self.width)
    parts[#parts + 1] = ("%3d%%|%s%s| %d/%d "):format(math.floor(frac * 100), string.rep("#", k),
      string.rep("-", self.width - k), n, total)
    times = clocktext(elapsed) .. "<" .. (rate > 0 and clocktext((total - n) / rate) or "?")
  else
    parts[#parts + 1] = ("%d %s "):format(n, self.unit)
    times = clocktext(elapsed)
  end
  local speed
  if rate <= 0 then speed = "? " .. self.unit .. "/s"
  elseif rate >= 1 then speed = ("%.1f %s/s"):format(rate, self.unit)
  else speed = ("%.2f s/%s"):format(1 / rate, self.unit) end
  parts[#parts + 1] = "[" .. times .. ", " .. speed .. (self.postfix and ", " .. self.postfix or "")
    .. "]"
  return table.concat(parts)
end

local function draw(self, now)
  self.last = now
  self.out:write("\r\27[K", self:line(now))
  self.out:flush()
  self.drawn = true
end

-- bar:update([k = 1]): k more steps done; redraws when due (terminal only).
function Bar:update(k)
  k = k or 1
  if type(k) ~= "number" then raise("progress: update takes a number of steps, got " .. type(k)) end
  self.n = self.n + k
  if self.quiet or not self.tty or self.closed then return self end
  local now = self.clock()
  if now - self.start < self.delay then return self end
  if now - self.last >= self.mininterval or (self.total and self.n >= self.total) then
    draw(self, now)
  end
  return self
end

-- bar:set_postfix{loss = 0.31, acc = 0.9} (keys sorted) or bar:set_postfix("text")
function Bar:set_postfix(p)
  if p == nil then self.postfix = nil return self end
  if type(p) == "string" then self.postfix = p return self end
  if type(p) ~= "table" then raise("progress: set_postfix takes a table or a string, got " .. type(p)) end
  local keys = {}
  for k in pairs(p) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  local s = {}
  for i, k in ipairs(keys) do
    local v = p[k]
    s[i] = k .. "=" .. (type(v) == "number" and number(v) or tostring(v))
  end
  self.postfix = #s > 0 and table.concat(s, ", ") or nil
  return self
end

-- bar:write(s): prints the line s on stdout above the bar (tqdm.write), which is redrawn below it
function Bar:write(s)
  s = tostring(s)
  if self.tty and self.drawn and not self.closed and not self.quiet then
    self.out:write("\r\27[K")
    self.out:flush()
    io.stdout:write(s, "\n")
    io.stdout:flush()
    draw(self, self.clock())
  else
    io.stdout:write(s, "\n")
    io.stdout:flush()
  end
  return self
end

-- Ends the bar: on a terminal the final state and a newline (if anything was drawn); off a
-- terminal one plain line (unless plain = false). Idempotent.
function Bar:close()
  if self.closed then return end
  self.closed = true
  if self.quiet then return end
  local now = self.clock()
  if self.tty then
    if self.drawn then draw(self, now); self.out:write("\n"); self.out:flush() end
  elseif self.plain then
    self.out:write(self:line(now), "\n")
    self.out:flush()
  end
end

Bar.__close = Bar.close

-- The generic for calls the bar: count the step the loop body just finished, fetch the next.
local function pack(...) return {n = select("#", ...), ...} end
function Bar:__call()
  if self.fetched then self:update(1) else self.fetched = true; self:update(0) end
  local r = pack(self.f(self.s, self.c))
  self.c = r[1]
  if r[1] == nil then
    self:close()
    return nil
  end
  return table.unpack(r, 1, r.n)
end

local function wrap(what, opts)
  opts = opts or {}
  if type(opts) ~= "table" then raise("progress: opts must be a table, got " .. type(opts)) end
  local f, total = nil, opts.total
  if type(what) == "number" and math.tointeger(what) then what = math.tointeger(what) end
  local mt = type(what) == "table" and getmetatable(what)
  local callable = type(mt) == "table" and mt.__call ~= nil
  if math.type(what) == "integer" then
    if what < 0 then raise("progress: the count must be >= 0, got " .. what) end
    local n = what
    f = function(_, i) i = i + 1; if i <= n then return i end end
    total = total or n
    local bar = M.new(total, opts)
    bar.f, bar.c = f, 0
    return bar, nil, nil, bar
  elseif type(what) == "table" and not callable then
    local t = what
    f = function(_, i) i = i + 1; local v = t[i]; if v ~= nil then return i, v end end
    total = total or #t
    local bar = M.new(total, opts)
    bar.f, bar.c = f, 0
    return bar, nil, nil, bar
  elseif type(what) == "function" or callable then
    local bar = M.new(total, opts)
    bar.f = what
    return bar, nil, nil, bar
  elseif what == nil then
    return M.new(total, opts)
  end
  raise("progress: expects a count, a Lua array or an iterator function, got "
    .. (math.type(what) or type(what)))
end
M.wrap = wrap

return setmetatable(M, {__call = function(_, what, opts) return wrap(what, opts) end})
