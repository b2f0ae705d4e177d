-- lunet/metrics.lua: classification and regression metrics (lunet.metrics), as scikit-learn 1.2.
--
--   local metrics = require "lunet.metrics"
--   print(metrics.accuracy_score(y, pred))
--   print(metrics.classification_report(y, pred, {digits = 3}))
--
-- Labels may be int64 tensors or Lua arrays (numbers or strings); classes are the sorted union
-- of the labels in y_true and y_pred unless opts.labels says otherwise. Per-class results are
-- Lua arrays in that order. zero_division = "warn" (the default) gives 0 as scikit-learn does
-- (the warning goes through Lua's warn(), silent unless warnings are on).

local lunet = require "lunet"
local util = require "lunet.util"
local checkopts, shapestr, raise = util.checkopts, util.shapestr, util.raise
local math, table, string, utf8 = math, table, string, utf8
local error, type, ipairs, pairs, tostring, getmetatable, warn, pcall =
  error, type, ipairs, pairs, tostring, getmetatable, warn, pcall
local M = {}
_ENV = nil

---------------------------------------------------------------------------------------------------
-- helpers

local istensor = lunet.is_tensor



-- A label vector as a Lua array (a tensor must be 1-D, or 2-D with one column).
local function labels(fname, name, y)
  if istensor(y) then
    if y:dim() == 2 and y:size(2) == 1 then y = y:reshape(-1) end
    if y:dim() ~= 1 then
      raise(fname .. ": " .. name .. " must be 1-D, got shape " .. shapestr(y))
    end
    y = y:totable()
  elseif type(y) ~= "table" then
    raise(fname .. ": " .. name .. " must be a tensor or a Lua array, got " .. type(y))
  end
  local kind
  for i = 1, #y do
    local v = y[i]
    if type(v) ~= "number" and type(v) ~= "string" then
      raise(fname .. ": " .. name .. "[" .. i .. "] is a " .. type(v) .. ", not a label")
    end
    if v ~= v then raise(fname .. ": " .. name .. " contains NaN") end
    if kind and type(v) ~= kind then
      raise(fname .. ": " .. name .. " mixes numbers and strings")
    end
    kind = type(v)
  end
  return y
end

local function pair(fname, y_true, y_pred)
  local t, p = labels(fname, "y_true", y_true), labels(fname, "y_pred", y_pred)
  if #t ~= #p then
    raise(("%s: y_true has %d samples but y_pred has %d"):format(fname, #t, #p))
  end
  if #t == 0 then raise(fname .. ": no samples") end
  return t, p
end

-- The classes: opts.labels, or the sorted union of the labels in a and b.
local function classes(fname, a, b, given)
  local u, seen = {}, {}
  if given ~= nil then
    if type(given) ~= "table" and not istensor(given) then
      raise(fname .. ": labels must be a Lua array or a tensor")
    end
    u = istensor(given) and given:totable() or given
    if #u == 0 then raise(fname .. ": labels is empty") end
    for _, v in ipairs(u) do
      if seen[v] then raise(fname .. ": labels contains " .. tostring(v) .. " twice") end
      seen[v] = true
    end
    return u
  end
  for _, list in ipairs{a, b} do
    for _, v in ipairs(list) do
      if not seen[v] then seen[v] = true; u[#u + 1] = v end
    end
  end
  if not pcall(table.sort, u) then
    raise(fname .. ": y_true and y_pred mix numbers and strings")
  end
  return u
end

-- tp, predicted and true counts per class (Lua arrays over cls)
local function counts(t, p, cls)
  local id = {}
  for i, c in ipairs(cls) do id[c] = i end
  local tp, ps, ts = {}, {}, {}
  for i = 1, #cls do tp[i], ps[i], ts[i] = 0, 0, 0 end
  for k = 1, #t do
    local a, b = id[t[k]], id[p[k]]
    if a then ts[a] = ts[a] + 1 end
    if b then ps[b] = ps[b] + 1 end
    if a and a == b then tp[a] = tp[a] + 1 end
  end
  return tp, ps, ts
end

local function zero_value(fname, zd)
  if zd == nil or zd == "warn" or zd == 0 then return 0.0 end
  if zd == 1 then return 1.0 end
  raise(fname .. ": zero_division must be \"warn\", 0 or 1, got " .. tostring(zd))
end

---------------------------------------------------------------------------------------------------
-- classification

-- accuracy_score(y_true, y_pred [, {normalize = true}]): the fraction (or count) of matches
function M.accuracy_score(y_true, y_pred, opts)
  opts = checkopts("accuracy_score", opts, {"normalize"})
  local t, p = pair("accuracy_score", y_true, y_pred)
  local hit = 0
  for i = 1, #t do if t[i] == p[i] then hit = hit + 1 end end
  if opts.normalize == false then return hit end
  return hit / #t
end

-- confusion_matrix(y_true, y_pred [, {labels}]) -> int64 [C, C] (rows: true, columns:
-- predicted) and the class list
function M.confusion_matrix(y_true, y_pred, opts)
  opts = checkopts("confusion_matrix", opts, {"labels"})
  local t, p = pair("confusion_matrix", y_true, y_pred)
  local cls = classes("confusion_matrix", t, p, opts.labels)
  local id = {}
  for i, c in ipairs(cls) do id[c] = i end
  local m = {}
  for i = 1, #cls do
    m[i] = {}
    for j = 1, #cls do m[i][j] = 0 end
  end
  for k = 1, #t do
    local a, b = id[t[k]], id[p[k]]
    if a and b then m[a][b] = m[a][b] + 1 end
  end
  return lunet.tensor(m, {dtype = "int64"}), cls
end

-- The core of precision_recall_fscore_support: per-class arrays or averaged numbers.
local function prfs(fname, t, p, opts)
  local avg = opts.average
  if avg ~= nil and avg ~= "macro" and avg ~= "weighted" and avg ~= "micro" and avg ~= "binary" then
    raise(fname .. ": average must be nil, \"binary\", \"micro\", \"macro\" or \"weighted\", got "
      .. tostring(avg))
  end
  local beta = opts.beta or 1
  if type(beta) ~= "number" or beta < 0 then
    raise(fname .. ": beta must be a non-negative number, got " .. tostring(beta))
  end
  local zdv = zero_value(fname, opts.zero_division)
  local cls = classes(fname, t, p, opts.labels)
  if avg == "binary" then
    local pos = opts.pos_label == nil and 1 or opts.pos_label
    if #cls > 2 then
      raise(fname .. ": target is multiclass but average=\"binary\"; choose another average")
    end
    cls = {pos}
  end
  local tp, ps, ts = counts(t, p, cls)
  if avg == "micro" then
    local a, b, c = 0, 0, 0
    for i = 1, #cls do a, b, c = a + tp[i], b + ps[i], c + ts[i] end
    tp, ps, ts = {a}, {b}, {c}
  end
  local prec, rec, f = {}, {}, {}
  local b2 = beta * beta
  local warned = false
  for i = 1, #tp do
    if ps[i] == 0 or ts[i] == 0 then warned = true end
    prec[i] = ps[i] == 0 and zdv or tp[i] / ps[i]
    rec[i] = ts[i] == 0 and zdv or tp[i] / ts[i]
    local den = b2 * prec[i] + rec[i]
    if beta == math.huge then f[i] = rec[i]
    else f[i] = (1 + b2) * prec[i] * rec[i] / (den == 0 and 1 or den) end
  end
  if warned and (opts.zero_division == nil or opts.zero_division == "warn") then
    warn(fname, ": precision or recall is ill-defined for a label with no predicted or no true ",
      "samples; set to 0 (use zero_division to choose)")
  end
  if avg == nil then return prec, rec, f, ts, cls end
  local w, wsum = {}, 0
  for i = 1, #tp do
    w[i] = avg == "weighted" and ts[i] or 1
    wsum = wsum + w[i]
  end
  if avg == "weighted" and wsum == 0 then
    local psum = 0
    for i = 1, #ps do psum = psum + ps[i] end
    if psum == 0 then return zdv, zdv, zdv, nil, cls end
    return 0.0, zdv, 0.0, nil, cls
  end
  local function average(x)
    local s = 0
    for i = 1, #x do s = s + x[i] * w[i] end
    return s / wsum
  end
  return average(prec), average(rec), average(f), nil, cls
end

-- precision_recall_fscore_support(y_true, y_pred [, {average, labels, beta = 1, pos_label = 1,
-- zero_division = "warn"}]) -> precision, recall, fbeta, support: Lua arrays over the classes
-- (the fifth result) when average is nil, numbers (support nil) otherwise
function M.precision_recall_fscore_support(y_true, y_pred, opts)
  local F = "precision_recall_fscore_support"
  opts = checkopts(F, opts, {"average", "labels", "beta", "pos_label", "zero_division"})
  local t, p = pair(F, y_true, y_pred)
  return prfs(F, t, p, opts)
end

-- Python's "{:>{width}s}": right-justified in width characters (UTF-8 aware)
local function rjust(s, width)
  local n = utf8.len(s) or #s
  return n >= width and s or string.rep(" ", width - n) .. s
end

-- classification_report(y_true, y_pred [, {digits = 2, target_names, labels, zero_division,
-- output_dict = false}]): scikit-learn 1.2's text layout, character for character
function M.classification_report(y_true, y_pred, opts)
  local F = "classification_report"
  opts = checkopts(F, opts, {"digits", "target_names", "labels", "zero_division", "output_dict"})
  local digits = opts.digits or 2
  if math.type(digits) ~= "integer" or digits < 0 or digits > 15 then
    raise(F .. ": digits must be an integer in 0..15, got " .. tostring(digits))
  end
  local t, p = pair(F, y_true, y_pred)
  local po = {labels = opts.labels, zero_division = opts.zero_division}
  local prec, rec, f1, sup, cls = prfs(F, t, p, po)
  local names = {}
  if opts.target_names ~= nil then
    if type(opts.target_names) ~= "table" then raise(F .. ": target_names must be a Lua array") end
    if #opts.target_names ~= #cls then
      raise(("%s: number of classes, %d, does not match size of target_names, %d. Try specifying "
        .. "the labels option"):format(F, #cls, #opts.target_names))
    end
    for i, n in ipairs(opts.target_names) do names[i] = tostring(n) end
  else
    for i, c in ipairs(cls) do names[i] = tostring(c) end
  end
  -- micro average is accuracy unless labels leave out some of the classes present
  local micro_is_accuracy = true
  if opts.labels ~= nil then
    local given = {}
    for _, c in ipairs(cls) do given[c] = true end
    for _, c in ipairs(classes(F, t, p)) do
      if not given[c] then micro_is_accuracy = false end
    end
  end
  local total = 0
  for i = 1, #sup do total = total + sup[i] end
  local avgs = {}
  for _, a in ipairs{"micro", "macro", "weighted"} do
    po.average = a
    local ap, ar, af = prfs(F, t, p, po)
    local head = (a == "micro" and micro_is_accuracy) and "accuracy" or a .. " avg"
    avgs[#avgs + 1] = {head, ap, ar, af, total}
  end

  if opts.output_dict then
    local d = {}
    for i, n in ipairs(names) do
      d[n] = {precision = prec[i], recall = rec[i], ["f1-score"] = f1[i], support = sup[i]}
    end
    for _, a in ipairs(avgs) do
      if a[1] == "accuracy" then d.accuracy = a[4]
      else d[a[1]] = {precision = a[2], recall = a[3], ["f1-score"] = a[4], support = a[5]} end
    end
    return d
  end

  local width = #"weighted avg"
  for _, n in ipairs(names) do width = math.max(width, utf8.len(n) or #n) end
  width = math.max(width, digits)
  local num = "%9." .. digits .. "f"
  local out = {rjust("", width), " "}
  for _, h in ipairs{"precision", "recall", "f1-score", "support"} do
    out[#out + 1] = " " .. ("%9s"):format(h)
  end
  out[#out + 1] = "\n\n"
  local function row(name, a, b, c, s)
    out[#out + 1] = rjust(name, width) .. " "
    for _, v in ipairs{a, b, c} do out[#out + 1] = " " .. num:format(v) end
    out[#out + 1] = " " .. ("%9d"):format(s) .. "\n"
  end
  for i, n in ipairs(names) do row(n, prec[i], rec[i], f1[i], sup[i]) end
  out[#out + 1] = "\n"
  for _, a in ipairs(avgs) do
    if a[1] == "accuracy" then
      -- " {:>9.{digits}}" of "" is nine spaces
      out[#out + 1] = rjust("accuracy", width) .. " " .. " " .. string.rep(" ", 9) .. " "
        .. string.rep(" ", 9) .. " " .. num:format(a[4]) .. " " .. ("%9d"):format(a[5]) .. "\n"
    else
      row(a[1], a[2], a[3], a[4], a[5])
    end
  end
  return table.concat(out)
end

-- log_loss(y_true, proba [, {labels, eps = "auto", normalize = true}]): proba [N, C] (or [N],
-- the positive class's probability), clipped to [eps, 1 - eps] (eps the dtype's epsilon) and
-- renormalised per row; the classes are the sorted labels of y_true (or opts.labels).
function M.log_loss(y_true, proba, opts)
  local F = "log_loss"
  opts = checkopts(F, opts, {"labels", "eps", "normalize"})
  local t = labels(F, "y_true", y_true)
  local eps, P = 2.0 ^ -52, proba
  if istensor(proba) then
    if proba:dtype() == "float32" then eps = 2.0 ^ -23 end
    if proba:dim() ~= 1 and proba:dim() ~= 2 then
      raise(F .. ": proba must be 1-D or 2-D, got shape " .. shapestr(proba))
    end
    P = proba:totable()
  elseif type(proba) ~= "table" then
    raise(F .. ": proba must be a tensor or a Lua array, got " .. type(proba))
  end
  if opts.eps ~= nil and opts.eps ~= "auto" then
    if type(opts.eps) ~= "number" or not (opts.eps > 0 and opts.eps < 0.5) then
      raise(F .. ": eps must be \"auto\" or a number in (0, 0.5)")
    end
    eps = opts.eps
  end
  if #P ~= #t then
    raise(("%s: y_true has %d samples but proba has %d rows"):format(F, #t, #P))
  end
  if #t == 0 then raise(F .. ": no samples") end
  local cls = classes(F, t, {}, opts.labels)
  if #cls == 1 then
    raise(F .. ": y_true contains only one label (" .. tostring(cls[1]) .. "). Please provide "
      .. "the true labels explicitly through the labels option")
  end
  local id = {}
  for i, c in ipairs(cls) do id[c] = i end
  local total = 0
  for k = 1, #t do
    local row = P[k]
    if type(row) == "number" then row = {1 - row, row} end
    if type(row) ~= "table" then raise(F .. ": proba row " .. k .. " is not a number or array") end
    if #row == 1 then row = {1 - row[1], row[1]} end
    if #row ~= #cls then
      raise(("%s: y_true and proba contain different numbers of classes %d, %d. Please provide the "
        .. "true labels explicitly through the labels option"):format(F, #cls, #row))
    end
    local c = id[t[k]]
    if c == nil then raise(F .. ": y_true contains a label not in labels: " .. tostring(t[k])) end
    local s, pc = 0, 0
    for j = 1, #row do
      local v = row[j]
      if v ~= v then raise(F .. ": proba contains NaN") end
      v = math.min(math.max(v, eps), 1 - eps)
      s = s + v
      if j == c then pc = v end
    end
    total = total - math.log(pc / s)
  end
  if opts.normalize == false then return total end
  return total / #t
end

---------------------------------------------------------------------------------------------------
-- regression

-- Both as float64 tensors of one shape ([N] and [N, 1] count as the same), 2-D: [N, outputs].
local function targets(fname, a, b)
  local function tens(name, v)
    if istensor(v) then return v:to("float64") end
    if type(v) == "table" then
      if #v == 0 then raise(fname .. ": " .. name .. " is empty") end
      return lunet.tensor(v, {dtype = "float64"})
    end
    raise(fname .. ": " .. name .. " must be a tensor or a Lua array, got " .. type(v))
  end
  local x, y = tens("y_true", a), tens("y_pred", b)
  if x:dim() == 1 then x = x:reshape(-1, 1) end
  if y:dim() == 1 then y = y:reshape(-1, 1) end
  if x:dim() ~= 2 or y:dim() ~= 2 or x:size(1) ~= y:size(1) or x:size(2) ~= y:size(2) then
    raise(("%s: y_true has shape %s but y_pred has shape %s"):format(fname,
      shapestr(tens("y_true", a)), shapestr(tens("y_pred", b))))
  end
  if x:size(1) == 0 then raise(fname .. ": no samples") end
  local s = (x:sum() + y:sum()):item()
  if s ~= s then raise(fname .. ": input contains NaN") end
  return x, y
end

-- mean_squared_error(y_true, y_pred): mean over samples and outputs of (y - p)^2
function M.mean_squared_error(y_true, y_pred)
  local x, y = targets("mean_squared_error", y_true, y_pred)
  local d = x - y
  return (d * d):mean():item()
end

-- mean_absolute_error(y_true, y_pred): mean of |y - p|
function M.mean_absolute_error(y_true, y_pred)
  local x, y = targets("mean_absolute_error", y_true, y_pred)
  return (x - y):abs():mean():item()
end

-- r2_score(y_true, y_pred): 1 - SS_res / SS_tot per output, averaged uniformly over outputs;
-- a constant y_true gives 1 for a perfect prediction and 0 otherwise (force_finite)
function M.r2_score(y_true, y_pred)
  local x, y = targets("r2_score", y_true, y_pred)
  local d = x - y
  local num = (d * d):sum(1):totable()
  local c = x - x:mean(1, true)
  local den = (c * c):sum(1):totable()
  local s = 0
  for j = 1, #num do
    if den[j] ~= 0 then s = s + (1 - num[j] / den[j])
    elseif num[j] == 0 then s = s + 1 end
  end
  return s / #num
end

return M
