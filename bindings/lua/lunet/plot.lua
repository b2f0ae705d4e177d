-- lunet/plot.lua: training curves and bar charts as standalone SVG files (lunet.plot).
--
--   local plot = require "lunet.plot"
--   plot.curves("loss.svg", {loss = {2.3, 1.1, 0.7}, validation = {0.5, 0.7, 0.8}},
--               {title = "digits", xlabel = "epoch", ylabel = "loss",
--                right = {"validation"}, y2label = "accuracy"})
--   plot.fit("fit.svg", clf)               -- clf.loss_curve_ (left) and validation_scores_ (right)
--   plot.bars("grads.svg", {{"1.weight", 0.8}, {"3.weight", 0.02}}, {title = "gradient norms",
--             log = true})
--
-- curves(path, series, opts): series maps a name to a Lua array (or 1-D tensor) of y values,
--   plotted against x = 1, 2, …; or is a list {{name = "loss", values = {…}, right = true}, …}
--   to fix the order. opts: title, xlabel, ylabel, y2label, right (names drawn against a second
--   y axis on the right), width (720), height (420). Names are drawn in sorted order otherwise.
-- fit(path, estimator [, opts]): loss_curve_ against the left axis, validation_scores_ (when
--   early stopping recorded them) against the right one.
-- bars(path, bars, opts): bars is a list of {label, value} pairs, or a table label -> value
--   (sorted by label); opts: title, ylabel, log (a log10 y axis for values spanning decades),
--   width, height.
-- Every function writes a complete, valid SVG 1.1 document (XML-escaped text) and returns path;
-- non-finite values leave gaps. Errors name the function and the problem.

local lunet = require "lunet"
local raise = require("lunet.util").raise
local io, math, table, string = io, math, table, string
local error, type, pairs, ipairs, tostring, getmetatable = error, type, pairs, ipairs, tostring,
  getmetatable
local M = {}
_ENV = nil

local COLORS = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf"}

local function istensor(x)
  local mt = type(x) == "userdata" and getmetatable(x)
  return type(mt) == "table" and mt.__name == "lunet.Tensor"
end

local function esc(s)
  return (tostring(s):gsub("[&<>\"']", {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
    ['"'] = "&quot;", ["'"] = "&apos;"}))
end

local function finite(v) return type(v) == "number" and v == v and v > -math.huge and v < math.huge end

-- Short decimal text for a tick value.
local function fmt(v)
  if v == 0 then return "0" end
  local a = math.abs(v)
  if a >= 1e5 or a < 1e-3 then return (("%.3g"):format(v):gsub("e%+?(%-?)0*(%d)", "e%1%2")) end
  local s = ("%.6f"):format(v):gsub("0+$", ""):gsub("%.$", "")
  return s
end

-- "Nice" ticks covering [lo, hi]: steps of 1, 2 or 5 times a power of ten.
local function ticks(lo, hi, n, integer)
  if lo == hi then
    local d = lo == 0 and 1 or math.abs(lo) * 0.1
    lo, hi = lo - d, hi + d
  end
  local raw = (hi - lo) / (n or 5)
  local p = 10 ^ math.floor(math.log(raw, 10))
  local step = p
  for _, m in ipairs{1, 2, 5, 10} do
    if m * p >= raw then step = m * p break end
  end
  if integer and step < 1 then step = 1 end
  local first = math.floor(lo / step) * step
  local last = math.ceil(hi / step) * step
  local t = {}
  for k = 0, math.floor((last - first) / step + 0.5) do t[#t + 1] = first + k * step end
  return t, first, last
end

local function values(fname, name, v)
  if istensor(v) then
    if v:dim() ~= 1 then raise(fname .. ": series '" .. name .. "' must be 1-D") end
    v = v:totable()
  end
  if type(v) ~= "table" then
    raise(fname .. ": series '" .. tostring(name) .. "' must be an array of numbers, got "
      .. type(v))
  end
  for i = 1, #v do
    if type(v[i]) ~= "number" then
      raise(("%s: series '%s' value %d is a %s, not a number"):format(fname, name, i, type(v[i])))
    end
  end
  return v
end

local function write(fname, path, parts)
  if type(path) ~= "string" then raise(fname .. ": path must be a string, got " .. type(path)) end
  local f, msg = io.open(path, "w")
  if not f then raise(fname .. ": " .. msg) end
  f:write(table.concat(parts))
  f:close()
  return path
end

local function header(w, h, title)
  local p = {
    '<?xml version="1.0" encoding="UTF-8"?>\n',
    ('<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" '
      .. 'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">\n'):format(w, h, w, h),
    ('<rect x="0" y="0" width="%d" height="%d" fill="white"/>\n'):format(w, h),
  }
  if title then
    p[#p + 1] = ('<text x="%g" y="22" text-anchor="middle" font-size="16">%s</text>\n')
      :format(w / 2, esc(title))
  end
  return p
end

local function line(p, x1, y1, x2, y2, style)
  p[#p + 1] = ('<line x1="%.2f" y1="%.2f" x2="%.2f" y2="%.2f" %s/>\n'):format(x1, y1, x2, y2,
    style or 'stroke="black"')
end

local function text(p, x, y, s, attrs)
  p[#p + 1] = ('<text x="%.2f" y="%.2f" %s>%s</text>\n'):format(x, y, attrs or "", esc(s))
end

---------------------------------------------------------------------------------------------------
-- curves

function M.curves(path, series, opts)
  local F = "plot.curves"
  opts = opts or {}
  if type(series) ~= "table" then raise(F .. ": series must be a table, got " .. type(series)) end
  if type(opts) ~= "table" then raise(F .. ": opts must be a table, got " .. type(opts)) end
  local right = {}
  for _, n in ipairs(opts.right or {}) do right[n] = true end
  local list = {}
  if #series > 0 then
    for i, s in ipairs(series) do
      if type(s) ~= "table" or s.name == nil then
        raise(F .. ": series[" .. i .. "] must be {name = …, values = {…}}")
      end
      list[#list + 1] = {name = tostring(s.name), v = values(F, s.name, s.values),
        right = s.right or right[s.name]}
    end
  else
    local names = {}
    for k in pairs(series) do names[#names + 1] = tostring(k) end
    table.sort(names)
    for _, n in ipairs(names) do
      list[#list + 1] = {name = n, v = values(F, n, series[n]), right = right[n]}
    end
  end
  local W, H = opts.width or 720, opts.height or 420
  local has_right = false
  for _, s in ipairs(list) do if s.right then has_right = true end end
  local L, R, T, B = 70, has_right and 70 or 20, opts.title and 40 or 20, 50
  local pw, ph = W - L - R, H - T - B

  -- ranges: x = 1..max length; y per axis over finite values
  local nmax = 1
  local range = {{math.huge, -math.huge}, {math.huge, -math.huge}}
  for _, s in ipairs(list) do
    nmax = math.max(nmax, #s.v)
    local r = range[s.right and 2 or 1]
    for _, y in ipairs(s.v) do
      if finite(y) then r[1], r[2] = math.min(r[1], y), math.max(r[2], y) end
    end
  end
  local p = header(W, H, opts.title)
  local xt, x0, x1 = ticks(1, math.max(nmax, 2), 8, true)
  if x0 < 1 then x0 = 1; while xt[1] and xt[1] < 1 do table.remove(xt, 1) end end
  local function X(x) return L + (x - x0) / (x1 - x0) * pw end
  local axes = {}
  for a = 1, 2 do
    local r = range[a]
    if r[1] > r[2] then r[1], r[2] = 0, 1 end
    local yt, y0, y1 = ticks(r[1], r[2], 6)
    axes[a] = {t = yt, y0 = y0, y1 = y1}
  end
  local function Y(a, y) return T + ph - (y - axes[a].y0) / (axes[a].y1 - axes[a].y0) * ph end

  -- frame, grid, ticks
  p[#p + 1] = ('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>\n')
    :format(L, T, pw, ph)
  for _, x in ipairs(xt) do
    line(p, X(x), T + ph, X(x), T + ph + 5)
    text(p, X(x), T + ph + 18, fmt(x), 'text-anchor="middle"')
  end
  for _, y in ipairs(axes[1].t) do
    line(p, L, Y(1, y), L + pw, Y(1, y), 'stroke="#dddddd"')
    line(p, L - 5, Y(1, y), L, Y(1, y))
    text(p, L - 8, Y(1, y) + 4, fmt(y), 'text-anchor="end"')
  end
  if has_right then
    for _, y in ipairs(axes[2].t) do
      line(p, L + pw, Y(2, y), L + pw + 5, Y(2, y))
      text(p, L + pw + 8, Y(2, y) + 4, fmt(y), 'text-anchor="start"')
    end
  end
  text(p, L + pw / 2, H - 10, opts.xlabel or "epoch", 'text-anchor="middle"')
  if opts.ylabel then
    text(p, 16, T + ph / 2, opts.ylabel,
      ('text-anchor="middle" transform="rotate(-90 16 %.2f)"'):format(T + ph / 2))
  end
  if has_right and opts.y2label then
    text(p, W - 12, T + ph / 2, opts.y2label,
      ('text-anchor="middle" transform="rotate(90 %d %.2f)"'):format(W - 12, T + ph / 2))
  end

  -- one polyline per run of finite values (gaps at NaN/inf); a lone point gets a dot
  for i, s in ipairs(list) do
    local color = COLORS[(i - 1) % #COLORS + 1]
    local a = s.right and 2 or 1
    local run = {}
    local function flush()
      if #run == 1 then
        p[#p + 1] = ('<circle cx="%s" r="2.5" fill="%s"/>\n'):format(run[1]:gsub(",", '" cy="'),
          color)
      elseif #run > 1 then
        p[#p + 1] = ('<polyline fill="none" stroke="%s" stroke-width="1.8"%s points="%s"/>\n')
          :format(color, s.right and ' stroke-dasharray="6 3"' or "", table.concat(run, " "))
      end
      run = {}
    end
    for x, y in ipairs(s.v) do
      if finite(y) then run[#run + 1] = ("%.2f,%.2f"):format(X(x), Y(a, y)) else flush() end
    end
    flush()
  end

  -- legend, top right inside the frame
  local lx, ly = L + pw - 10, T + 10
  local longest = 0
  for _, s in ipairs(list) do longest = math.max(longest, #s.name + (s.right and 4 or 0)) end
  local bw = longest * 7 + 40
  if #list > 0 then
    p[#p + 1] = ('<rect x="%.2f" y="%.2f" width="%d" height="%d" fill="white" '
      .. 'fill-opacity="0.85" stroke="#999999"/>\n'):format(lx - bw, ly, bw, #list * 18 + 8)
  end
  for i, s in ipairs(list) do
    local y = ly + 4 + i * 18 - 6
    line(p, lx - bw + 8, y - 4, lx - bw + 30, y - 4,
      ('stroke="%s" stroke-width="2"%s'):format(COLORS[(i - 1) % #COLORS + 1],
        s.right and ' stroke-dasharray="6 3"' or ""))
    text(p, lx - bw + 36, y, s.name .. (s.right and " (R)" or ""))
  end
  if #list == 0 then text(p, L + pw / 2, T + ph / 2, "no data", 'text-anchor="middle"') end
  p[#p + 1] = "</svg>\n"
  return write(F, path, p)
end

function M.fit(path, est, opts)
  local F = "plot.fit"
  if type(est) ~= "table" or est.loss_curve_ == nil then
    raise(F .. ": the estimator has no loss_curve_ (fit it with an iterative solver first)")
  end
  opts = opts or {}
  local series = {{name = "training loss", values = est.loss_curve_}}
  local vs = est.validation_scores_
  if vs ~= nil and #vs > 0 then
    series[2] = {name = "validation score", values = vs, right = true}
  end
  return M.curves(path, series, {
    title = opts.title or "training", xlabel = opts.xlabel or "epoch",
    ylabel = opts.ylabel or "loss", y2label = opts.y2label or (vs and #vs > 0 and "score" or nil),
    width = opts.width, height = opts.height,
  })
end

---------------------------------------------------------------------------------------------------
-- bars

function M.bars(path, bars, opts)
  local F = "plot.bars"
  opts = opts or {}
  if type(bars) ~= "table" then raise(F .. ": bars must be a table, got " .. type(bars)) end
  local list = {}
  if #bars > 0 then
    for i, b in ipairs(bars) do
      if type(b) ~= "table" or type(b[2]) ~= "number" then
        raise(F .. ": bars[" .. i .. "] must be {label, value}")
      end
      list[i] = {tostring(b[1]), b[2]}
    end
  else
    local names = {}
    for k in pairs(bars) do names[#names + 1] = k end
    table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(names) do
      if type(bars[k]) ~= "number" then raise(F .. ": bar '" .. tostring(k) .. "' is not a number") end
      list[#list + 1] = {tostring(k), bars[k]}
    end
  end
  local log = opts.log
  local W, H = opts.width or math.max(360, 60 + 70 * #list), opts.height or 400
  local L, R, T, B = 70, 20, opts.title and 40 or 20, 90
  local pw, ph = W - L - R, H - T - B
  local lo, hi = math.huge, -math.huge
  for _, b in ipairs(list) do
    local v = b[2]
    if log then v = v > 0 and math.log(v, 10) or -math.huge end
    if finite(v) then lo, hi = math.min(lo, v), math.max(hi, v) end
  end
  if lo > hi then lo, hi = 0, 1 end
  if not log then lo, hi = math.min(lo, 0), math.max(hi, 0) end
  if log then lo, hi = math.floor(lo), math.ceil(hi) end
  local yt, y0, y1 = ticks(lo, hi, 6)
  if log then
    yt = {}
    if lo == hi then lo, hi = lo - 1, hi + 1 end
    y0, y1 = lo, hi
    for e = lo, hi do yt[#yt + 1] = e end
  end
  local function Y(v) return T + ph - (v - y0) / (y1 - y0) * ph end
  local p = header(W, H, opts.title)
  p[#p + 1] = ('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>\n')
    :format(L, T, pw, ph)
  for _, y in ipairs(yt) do
    line(p, L, Y(y), L + pw, Y(y), 'stroke="#dddddd"')
    line(p, L - 5, Y(y), L, Y(y))
    text(p, L - 8, Y(y) + 4, log and fmt(10 ^ y) or fmt(y), 'text-anchor="end"')
  end
  if opts.ylabel then
    text(p, 16, T + ph / 2, opts.ylabel,
      ('text-anchor="middle" transform="rotate(-90 16 %.2f)"'):format(T + ph / 2))
  end
  local slot = pw / math.max(#list, 1)
  local base = Y(log and y0 or 0)
  for i, b in ipairs(list) do
    local cx = L + (i - 0.5) * slot
    local v = b[2]
    if log then v = v > 0 and math.log(v, 10) or nil end
    if v and finite(v) then
      local y = Y(v)
      p[#p + 1] = ('<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s"><title>%s: %s'
        .. '</title></rect>\n'):format(cx - slot * 0.35, math.min(y, base), slot * 0.7,
        math.abs(base - y), COLORS[1], esc(b[1]), esc(("%.4g"):format(b[2])))
    end
    text(p, cx, T + ph + 14, b[1],
      ('text-anchor="end" transform="rotate(-40 %.2f %.2f)"'):format(cx, T + ph + 14))
  end
  if #list == 0 then text(p, L + pw / 2, T + ph / 2, "no data", 'text-anchor="middle"') end
  p[#p + 1] = "</svg>\n"
  return write(F, path, p)
end

return M
