-- lunet/plot.lua: curves, scatter plots, bar charts and heat maps as standalone SVG files
-- (lunet.plot).
--
--   local plot = require "lunet.plot"
--   plot.curves("loss.svg", {loss = {2.3, 1.1, 0.7}, validation = {0.5, 0.7, 0.8}},
--               {title = "digits", xlabel = "epoch", ylabel = "loss",
--                right = {"validation"}, y2label = "accuracy"})
--   plot.curves("fit.svg", {{name = "data", x = xs, values = ys, style = "scatter"},
--                           {name = "model", x = xs, values = pred}}, {xlabel = "x"})
--   plot.fit("fit.svg", clf)               -- clf.loss_curve_ (left) and validation_scores_ (right)
--   plot.bars("grads.svg", {{"1.weight", 0.8}, {"3.weight", 0.02}}, {title = "gradient norms",
--             log = true})
--   local cm, labels = metrics.confusion_matrix(y_true, y_pred)
--   plot.heatmap("cm.svg", cm, {labels = labels, xlabel = "predicted", ylabel = "true"})
--
-- curves(path, series, opts): series maps a name to a Lua array (or 1-D tensor) of y values,
--   plotted against x = 1, 2, … (or opts.x); or is a list {{name = "loss", values = {…}, x = {…},
--   style = "line" | "scatter" | "both", right = true}, …} to fix the order. opts: title, xlabel
--   ("epoch" when there are no x values), ylabel, y2label, right (names drawn against a second
--   y axis on the right), x (x values of every series), style, legend (false: none), width (720),
--   height (420). Names are drawn in sorted order otherwise. The legend is a column right of the
--   frame, so it never covers a curve.
-- scatter(path, x, y, opts): one scatter series (opts.name names it in a legend).
-- fit(path, estimator [, opts]): loss_curve_ against the left axis, validation_scores_ (when
--   early stopping recorded them) against the right one.
-- bars(path, bars, opts): bars is a list of {label, value} pairs, or a table label -> value
--   (sorted by label); opts: title, ylabel, log (a log10 y axis for values spanning decades),
--   width, height.
-- heatmap(path, matrix, opts): a 2-D tensor or a Lua array of rows, white (smallest) to dark blue
--   (largest) with a color scale; opts: title, xlabel, ylabel, labels (both axes, as
--   confusion_matrix's second result) or xlabels / ylabels, annotate (the value in each cell;
--   default up to 30×30), format ("%d" for integers, "%.2f" otherwise), cell (pixels).
-- Every function writes a complete, valid SVG 1.1 document (XML-escaped text) and returns path;
-- non-finite values leave gaps (gray cells in a heat map). Errors name the function and the
-- problem.

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

-- A Lua array of numbers from a Lua array or a 1-D tensor; what names it in errors.
local function values(fname, name, v, what)
  what = what or ("series '" .. tostring(name) .. "'")
  if istensor(v) then
    if v:dim() ~= 1 then raise(fname .. ": " .. what .. " must be 1-D") end
    v = v:totable()
  end
  if type(v) ~= "table" then
    raise(fname .. ": " .. what .. " must be an array of numbers, got " .. type(v))
  end
  for i = 1, #v do
    if type(v[i]) ~= "number" then
      raise(("%s: %s value %d is a %s, not a number"):format(fname, what, i, type(v[i])))
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

-- One entry of the series list: its name, y values, x values (nil: 1, 2, …), style, axis.
local STYLES = {line = true, scatter = true, both = true}
local function entry(F, name, y, x, style, right)
  local v = values(F, name, y)
  local xs
  if x ~= nil then
    xs = values(F, name, x, "series '" .. tostring(name) .. "' x")
    if #xs ~= #v then
      raise(("%s: series '%s' has %d x values and %d y values"):format(F, name, #xs, #v))
    end
  end
  style = style or "line"
  if not STYLES[style] then
    raise(("%s: series '%s': style must be \"line\", \"scatter\" or \"both\", got %s")
      :format(F, name, tostring(style)))
  end
  return {name = tostring(name), v = v, x = xs, style = style, right = right}
end

-- The x of point i of series s
local function xof(s, i) return s.x and s.x[i] or i end

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
      list[#list + 1] = entry(F, s.name, s.values or s.y, s.x or opts.x, s.style,
        s.right or right[s.name])
    end
  else
    local names = {}
    for k in pairs(series) do names[#names + 1] = tostring(k) end
    table.sort(names)
    for _, n in ipairs(names) do
      list[#list + 1] = entry(F, n, series[n], opts.x, opts.style, right[n])
    end
  end
  local W, H = opts.width or 720, opts.height or 420
  local has_right, has_x = false, false
  for _, s in ipairs(list) do
    if s.right then has_right = true end
    if s.x then has_x = true end
  end
  -- the legend sits in a column right of the frame, so it never covers a curve
  local legend = opts.legend ~= false and #list > 0
  local longest = 0
  for _, s in ipairs(list) do longest = math.max(longest, #s.name + (s.right and 4 or 0)) end
  local lw = legend and longest * 7 + 44 or 0
  local L, R, T, B = 70, (has_right and 70 or 20) + lw, opts.title and 40 or 20, 50
  local pw, ph = W - L - R, H - T - B
  if pw < 50 then raise(("%s: width %d leaves no room for the plot"):format(F, W)) end

  -- ranges over finite points: x shared, y per axis
  local xr = {math.huge, -math.huge}
  local range = {{math.huge, -math.huge}, {math.huge, -math.huge}}
  for _, s in ipairs(list) do
    local r = range[s.right and 2 or 1]
    for i, y in ipairs(s.v) do
      local x = xof(s, i)
      if finite(y) and finite(x) then
        r[1], r[2] = math.min(r[1], y), math.max(r[2], y)
        xr[1], xr[2] = math.min(xr[1], x), math.max(xr[2], x)
      end
    end
  end
  local p = header(W, H, opts.title)
  local xt, x0, x1
  if has_x then
    if xr[1] > xr[2] then xr[1], xr[2] = 0, 1 end
    xt, x0, x1 = ticks(xr[1], xr[2], 8)
  else
    if xr[1] > xr[2] then xr[2] = 2 end
    xt, x0, x1 = ticks(1, math.max(xr[2], 2), 8, true)
    if x0 < 1 then x0 = 1; while xt[1] and xt[1] < 1 do table.remove(xt, 1) end end
  end
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
  local xlabel = opts.xlabel
  if xlabel == nil and not has_x then xlabel = "epoch" end
  if xlabel then text(p, L + pw / 2, H - 10, xlabel, 'text-anchor="middle"') end
  if opts.ylabel then
    text(p, 16, T + ph / 2, opts.ylabel,
      ('text-anchor="middle" transform="rotate(-90 16 %.2f)"'):format(T + ph / 2))
  end
  if has_right and opts.y2label then
    local yx = L + pw + 58
    text(p, yx, T + ph / 2, opts.y2label,
      ('text-anchor="middle" transform="rotate(90 %d %.2f)"'):format(yx, T + ph / 2))
  end

  -- lines: one polyline per run of finite points (gaps at NaN/inf), a lone point gets a dot;
  -- scatter: a circle per point
  for i, s in ipairs(list) do
    local color = COLORS[(i - 1) % #COLORS + 1]
    local a = s.right and 2 or 1
    local dash = s.right and ' stroke-dasharray="6 3"' or ""
    local run, dots = {}, {}
    local function flush()
      if #run == 1 and s.style == "line" then
        p[#p + 1] = ('<circle cx="%s" r="2.5" fill="%s"/>\n'):format(run[1]:gsub(",", '" cy="'),
          color)
      elseif #run > 1 then
        p[#p + 1] = ('<polyline fill="none" stroke="%s" stroke-width="1.8"%s points="%s"/>\n')
          :format(color, dash, table.concat(run, " "))
      end
      run = {}
    end
    for k, y in ipairs(s.v) do
      local x = xof(s, k)
      if finite(y) and finite(x) then
        local pt = ("%.2f,%.2f"):format(X(x), Y(a, y))
        if s.style ~= "scatter" then run[#run + 1] = pt end
        if s.style ~= "line" then dots[#dots + 1] = pt end
      else
        flush()
      end
    end
    flush()
    if #dots > 0 then
      p[#p + 1] = ('<g fill="%s" fill-opacity="0.75">\n'):format(color)
      for _, pt in ipairs(dots) do
        p[#p + 1] = ('<circle cx="%s" r="3"/>\n'):format((pt:gsub(",", '" cy="')))
      end
      p[#p + 1] = "</g>\n"
    end
  end

  -- legend: right of the frame (and of the right axis), top-aligned
  if legend then
    local lx, ly = L + pw + (has_right and 70 or 0) + 12, T
    p[#p + 1] = ('<rect x="%.2f" y="%.2f" width="%d" height="%d" fill="white" '
      .. 'stroke="#999999"/>\n'):format(lx, ly, lw - 16, #list * 18 + 8)
    for i, s in ipairs(list) do
      local y = ly + 4 + i * 18 - 6
      local color = COLORS[(i - 1) % #COLORS + 1]
      if s.style ~= "scatter" then
        line(p, lx + 6, y - 4, lx + 28, y - 4, ('stroke="%s" stroke-width="2"%s'):format(color,
          s.right and ' stroke-dasharray="6 3"' or ""))
      end
      if s.style ~= "line" then
        p[#p + 1] = ('<circle cx="%.2f" cy="%.2f" r="3" fill="%s"/>\n'):format(lx + 17, y - 4, color)
      end
      text(p, lx + 34, y, s.name .. (s.right and " (R)" or ""))
    end
  end
  if #list == 0 then text(p, L + pw / 2, T + ph / 2, "no data", 'text-anchor="middle"') end
  p[#p + 1] = "</svg>\n"
  return write(F, path, p)
end

-- plot.scatter(path, x, y [, opts]): one scatter series (opts.name, and curves' opts)
function M.scatter(path, x, y, opts)
  opts = opts or {}
  if type(opts) ~= "table" then raise("plot.scatter: opts must be a table, got " .. type(opts)) end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  if o.legend == nil then o.legend = opts.name ~= nil end
  return M.curves(path, {{name = opts.name or "y", x = x, values = y, style = "scatter"}}, o)
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

---------------------------------------------------------------------------------------------------
-- heat map

-- White for the smallest value to dark blue for the largest.
local function shade(f)
  local r = math.floor(255 + f * (8 - 255) + 0.5)
  local g = math.floor(255 + f * (48 - 255) + 0.5)
  local b = math.floor(255 + f * (107 - 255) + 0.5)
  return ("#%02x%02x%02x"):format(r, g, b)
end

function M.heatmap(path, matrix, opts)
  local F = "plot.heatmap"
  opts = opts or {}
  if type(opts) ~= "table" then raise(F .. ": opts must be a table, got " .. type(opts)) end
  local rows
  if istensor(matrix) then
    if matrix:dim() ~= 2 then raise(F .. ": matrix must be 2-D, got " .. matrix:dim() .. "-D") end
    rows = matrix:to("float64"):totable()
  elseif type(matrix) == "table" then
    rows = matrix
  else
    raise(F .. ": matrix must be a 2-D tensor or a Lua array of rows, got " .. type(matrix))
  end
  local nr, nc = #rows, 0
  for i = 1, nr do
    rows[i] = values(F, nil, rows[i], "row " .. i)
    if i > 1 and #rows[i] ~= nc then
      raise(("%s: row %d has %d values, row 1 has %d"):format(F, i, #rows[i], nc))
    end
    nc = #rows[i]
  end
  if nr == 0 or nc == 0 then raise(F .. ": matrix is empty") end
  local xl = opts.xlabels or opts.labels or {}
  local yl = opts.ylabels or opts.labels or {}
  local lo, hi, integer = math.huge, -math.huge, true
  for i = 1, nr do
    for j = 1, nc do
      local v = rows[i][j]
      if finite(v) then
        lo, hi = math.min(lo, v), math.max(hi, v)
        if v ~= math.floor(v) then integer = false end
      end
    end
  end
  if lo > hi then lo, hi = 0, 1 end
  local annotate = opts.annotate
  if annotate == nil then annotate = nr <= 30 and nc <= 30 end
  local form = opts.format or (integer and "%d" or "%.2f")
  local longest = 0
  for i = 1, nr do longest = math.max(longest, #tostring(yl[i] or i)) end
  local cell = opts.cell or math.max(8, math.min(56, math.floor(560 / math.max(nr, nc))))
  local L, T = math.max(60, longest * 7 + 40), opts.title and 40 or 20
  local B = 70
  local pw, ph = cell * nc, cell * nr
  local W, H = L + pw + 110, T + ph + B
  local p = header(W, H, opts.title)
  for i = 1, nr do
    for j = 1, nc do
      local v = rows[i][j]
      local x, y = L + (j - 1) * cell, T + (i - 1) * cell
      local f = finite(v) and (hi > lo and (v - lo) / (hi - lo) or 0) or nil
      local s = finite(v) and form:format(integer and math.tointeger(v) or v) or tostring(v)
      p[#p + 1] = ('<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s, %s: %s'
        .. '</title></rect>\n'):format(x, y, cell, cell, f and shade(f) or "#bbbbbb",
        esc(yl[i] or i), esc(xl[j] or j), esc(s))
      if annotate then
        text(p, x + cell / 2, y + cell / 2 + 4, s, ('text-anchor="middle" fill="%s"')
          :format(f and f > 0.5 and "white" or "black"))
      end
    end
  end
  p[#p + 1] = ('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>\n')
    :format(L, T, pw, ph)
  for j = 1, nc do
    local cx = L + (j - 0.5) * cell
    text(p, cx, T + ph + 14, xl[j] or j,
      ('text-anchor="end" transform="rotate(-40 %.2f %.2f)"'):format(cx, T + ph + 14))
  end
  for i = 1, nr do text(p, L - 6, T + (i - 0.5) * cell + 4, yl[i] or i, 'text-anchor="end"') end
  if opts.xlabel then text(p, L + pw / 2, H - 8, opts.xlabel, 'text-anchor="middle"') end
  if opts.ylabel then
    text(p, 14, T + ph / 2, opts.ylabel,
      ('text-anchor="middle" transform="rotate(-90 14 %.2f)"'):format(T + ph / 2))
  end
  -- the color scale: a gradient bar from lo (bottom) to hi (top)
  local cx = L + pw + 20
  p[#p + 1] = '<defs><linearGradient id="scale" x1="0" y1="1" x2="0" y2="0">'
    .. ('<stop offset="0" stop-color="%s"/><stop offset="1" stop-color="%s"/>'):format(shade(0),
    shade(1)) .. '</linearGradient></defs>\n'
  p[#p + 1] = ('<rect x="%d" y="%d" width="16" height="%d" fill="url(#scale)" stroke="black"/>\n')
    :format(cx, T, ph)
  text(p, cx + 22, T + 10, fmt(hi), 'text-anchor="start"')
  text(p, cx + 22, T + ph, fmt(lo), 'text-anchor="start"')
  p[#p + 1] = "</svg>\n"
  return write(F, path, p)
end

return M
