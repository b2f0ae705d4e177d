-- lunet/progress.lua: a one-line progress bar on stderr for long fits.
--
--   local progress = require "lunet.progress"
--   local bar = progress.new(max_iter)                    -- or progress.new(n, {enabled = …})
--   for epoch = 1, max_iter do
--     …
--     bar:update(epoch, {loss = loss, score = val_score}) -- redraws at most 10 times a second
--   end
--   bar:close()                                           -- ends the line (if anything was drawn)
--
-- It draws only when stderr is a terminal (TERM set and not "dumb", and lunet._io.isatty(2))
-- and only once the fit has run longer than a second, so short fits and logs stay silent.
-- The line: "epoch 12/200 [####......] loss 0.3127 val 0.9512 3.4 it/s ETA 55s".

local lunet = require "lunet"
local io, math, string, table, os = io, math, string, table, os
local setmetatable, type = setmetatable, type
local M = {}
_ENV = nil

local Bar = {}
Bar.__index = Bar

local function terminal()
  local term = os.getenv("TERM")
  if term == nil or term == "" or term == "dumb" then return false end
  local isatty = lunet._io and lunet._io.isatty
  return isatty ~= nil and isatty(2) == true
end

-- progress.new(total [, {enabled, delay = 1, width = 30, label = "epoch", out = io.stderr,
-- clock}]): enabled defaults to "stderr is a terminal"; clock to lunet.clock.
function M.new(total, opts)
  opts = opts or {}
  local clock = opts.clock or lunet.clock or os.clock
  local enabled = opts.enabled
  if enabled == nil then enabled = terminal() end
  return setmetatable({
    total = total, enabled = enabled, delay = opts.delay or 1, width = opts.width or 30,
    label = opts.label or "epoch", out = opts.out or io.stderr, clock = clock,
    start = clock(), last = -math.huge, drawn = false,
  }, Bar)
end

local function duration(s)
  if s ~= s or s == math.huge then return "?" end
  s = math.floor(s + 0.5)
  if s < 60 then return s .. "s" end
  if s < 3600 then return ("%dm%02ds"):format(s // 60, s % 60) end
  return ("%dh%02dm"):format(s // 3600, s % 3600 // 60)
end

-- The text of the line for step k (exposed for tests).
function Bar:line(k, info, now)
  info = info or {}
  local total = self.total
  local elapsed = now - self.start
  local parts = {}
  if total and total > 0 then
    local frac = math.min(k / total, 1)
    local n = math.floor(frac * self.width + 0.5)
    parts[#parts + 1] = ("%s %d/%d [%s%s]"):format(self.label, k, total, string.rep("#", n),
      string.rep(".", self.width - n))
  else
    parts[#parts + 1] = ("%s %d"):format(self.label, k)
  end
  if type(info.loss) == "number" then parts[#parts + 1] = ("loss %.4f"):format(info.loss) end
  if type(info.score) == "number" then parts[#parts + 1] = ("val %.4f"):format(info.score) end
  local rate = elapsed > 0 and k / elapsed or 0
  parts[#parts + 1] = rate >= 1 and ("%.1f it/s"):format(rate) or ("%.1f s/it"):format(
    rate > 0 and 1 / rate or 0)
  if total and total > 0 and rate > 0 then
    parts[#parts + 1] = "ETA " .. duration((total - k) / rate)
  end
  return table.concat(parts, " ")
end

function Bar:update(k, info)
  if not self.enabled then return end
  local now = self.clock()
  if now - self.start < self.delay then return end
  if now - self.last < 0.1 and not (self.total and k >= self.total) then return end
  self.last = now
  self.out:write("\r\27[K", self:line(k, info, now))
  self.out:flush()
  self.drawn = true
end

function Bar:close()
  if self.drawn then self.out:write("\n"); self.out:flush() end
  self.drawn = false
end

return M
