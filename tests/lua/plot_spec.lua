-- plot_spec.lua: lunet.plot writes well-formed SVG with the expected parts.
local lunet = require "lunet"
local plot = require "lunet.plot"

local slurp = dofile("tests/lua/helpers.lua").read_file

-- A small well-formedness check: every tag closes in order, one root <svg>.
local function well_formed(s)
  assert.are.equal('<?xml version="1.0" encoding="UTF-8"?>\n', s:sub(1, 39))
  local stack, roots = {}, 0
  for close, name, selfclose in s:sub(40):gmatch("<(/?)([%w:]+)[^>]-(/?)>") do
    if close == "/" then
      assert.are.equal(stack[#stack], name)
      stack[#stack] = nil
    elseif selfclose ~= "/" then
      if #stack == 0 then roots = roots + 1 end
      stack[#stack + 1] = name
    end
  end
  assert.are.equal(0, #stack)
  assert.are.equal(1, roots)
  assert.is_nil(s:find("&[^alqg]"))           -- only escaped entities
  return true
end

local function count(s, pat) local n = 0 for _ in s:gmatch(pat) do n = n + 1 end return n end

describe("lunet.plot", function()
  local path = os.tmpname()
  after_each(function() os.remove(path) end)

  it("curves: title, axes, ticks, legend, one polyline per series", function()
    assert.are.equal(path, plot.curves(path, {loss = {3, 2, 1}, ["val <acc>"] = {0.5, 0.75, 0.9}},
      {title = "a < b & c", xlabel = "epoch", ylabel = "loss", right = {"val <acc>"},
       y2label = "accuracy"}))
    local s = slurp(path)
    assert.is_true(well_formed(s))
    assert.are.equal(2, count(s, "<polyline"))
    assert.truthy(s:find(">a &lt; b &amp; c</text>", 1, true))
    assert.truthy(s:find(">val &lt;acc&gt; (R)</text>", 1, true))
    assert.truthy(s:find(">loss</text>", 1, true))
    assert.truthy(s:find(">accuracy</text>", 1, true))
    for _, tick in ipairs{"1", "1.5", "2", "2.5", "3"} do    -- left axis: steps of 0.5
      assert.truthy(s:find('text-anchor="end">' .. tick .. "</text>", 1, true), tick)
    end
  end)

  it("curves: NaN leaves a gap, tensors and ordered lists are accepted", function()
    plot.curves(path, {{name = "b", values = {1, 0 / 0, 2, 3}},
      {name = "a", values = lunet.tensor({1, 2}, {dtype = "float64"})}})
    local s = slurp(path)
    assert.is_true(well_formed(s))
    assert.are.equal(2, count(s, "<polyline"))     -- b: {2, 3}; a: {1, 2}
    assert.are.equal(1, count(s, "<circle"))       -- b's lone first point
    assert.truthy(s:find(">b</text>.*>a</text>"))  -- legend in the given order
  end)

  it("fit draws loss_curve_ and validation_scores_", function()
    plot.fit(path, {loss_curve_ = {1, 0.5, 0.25}, validation_scores_ = {0.6, 0.7, 0.8}})
    local s = slurp(path)
    assert.is_true(well_formed(s))
    assert.are.equal(2, count(s, "<polyline"))
    assert.truthy(s:find(">training loss</text>", 1, true))
    assert.truthy(s:find(">validation score (R)</text>", 1, true))
  end)

  it("bars: one rect per bar, log axis", function()
    plot.bars(path, {{"1.weight", 0.5}, {"3.weight", 0.005}}, {title = "grad norms", log = true})
    local s = slurp(path)
    assert.is_true(well_formed(s))
    assert.are.equal(2, count(s, "<title>"))
    assert.truthy(s:find("<title>3.weight: 0.005</title>", 1, true))
    for _, tick in ipairs{"0.001", "0.01", "0.1", "1"} do
      assert.truthy(s:find('text-anchor="end">' .. tick .. "</text>", 1, true), tick)
    end
  end)

  it("curves: x values, scatter and line styles, the legend right of the frame", function()
    plot.curves(path, {{name = "data", x = {-2, 0, 2.5}, values = {4, 0, 6.25}, style = "scatter"},
                       {name = "fit", x = lunet.tensor{-2, 0, 2.5}, values = {4.1, 0.1, 6.2}},
                       {name = "both", x = {-1, 1}, values = {1, 1}, style = "both"}},
                {xlabel = "x", width = 600})
    local s = slurp(path)
    assert.is_true(well_formed(s))
    assert.are.equal(2, count(s, "<polyline"))       -- fit and both
    assert.are.equal(3 + 2 + 2, count(s, "<circle")) -- scatter points, both's points, 2 legend dots
    assert.truthy(s:find('text-anchor="middle">x</text>', 1, true))
    assert.is_nil(s:find(">epoch<", 1, true))        -- x values given: no "epoch" default
    for _, tick in ipairs{"-2", "-1", "0", "1", "2", "3"} do   -- x ticks from the x range
      assert.truthy(s:find('text-anchor="middle">' .. tick .. "</text>", 1, true), tick)
    end
    -- the frame ends before the legend begins
    local fx, fw = s:match('<rect x="(%d+)" y="%d+" width="(%d+)" height="%d+" fill="none"')
    local lx = tonumber(s:match('<rect x="([%d.]+)" y="[%d.]+" width="%d+" height="%d+" fill="white" stroke'))
    assert.is_true(tonumber(fx) + tonumber(fw) < lx)
    -- the fit's first point is at the frame's left edge (x = -2 is the first tick)
    assert.truthy(s:find('points="' .. fx .. '.00,', 1, true))
    plot.curves(path, {a = {1, 2}}, {legend = false})
    assert.are.equal(0, count(slurp(path), "fill=\"white\" stroke"))
  end)

  it("scatter: one series of points against x", function()
    plot.scatter(path, {1, 2, 3}, lunet.tensor{3, 1, 2}, {title = "s", xlabel = "u", ylabel = "v"})
    local s = slurp(path)
    assert.is_true(well_formed(s))
    assert.are.equal(3, count(s, "<circle"))
    assert.are.equal(0, count(s, "<polyline"))
  end)

  it("heatmap: a cell per value, shaded by value, labels and annotations", function()
    local cm, labels = lunet.metrics.confusion_matrix({"b", "a", "a", "c"}, {"b", "a", "c", "c"})
    plot.heatmap(path, cm, {labels = labels, title = "confusion", xlabel = "predicted",
                            ylabel = "true"})
    local s = slurp(path)
    assert.is_true(well_formed(s))
    assert.are.equal(9, count(s, "<title>"))
    assert.truthy(s:find('fill="#08306b"><title>a, a: 1</title>', 1, true))   -- the largest: dark
    assert.truthy(s:find('fill="#ffffff"><title>a, b: 0</title>', 1, true))   -- the smallest: white
    assert.truthy(s:find('fill="white">1</text>', 1, true))   -- annotations readable on dark cells
    for _, t in ipairs{">predicted<", ">true<", ">confusion<", 'text-anchor="end">c</text>'} do
      assert.truthy(s:find(t, 1, true), t)
    end
    plot.heatmap(path, {{0.5, 0 / 0}, {0.25, 1}}, {annotate = false})
    s = slurp(path)
    assert.truthy(s:find('fill="#bbbbbb"><title>1, 2: nan</title>', 1, true) or
                  s:find('fill="#bbbbbb"><title>1, 2: -nan</title>', 1, true))
    assert.are.equal(6, count(s, "<text"))           -- 2 + 2 tick labels, the scale's 2 numbers
    assert.truthy(s:find("<title>1, 1: 0.50</title>", 1, true))
    assert.is_nil(s:find(">0.50</text>", 1, true))   -- not annotated
  end)

  local errors = {
    {function() plot.curves(path, {{name = "a", x = {1}, values = {1, 2}}}) end,
      "plot.curves: series 'a' has 1 x values and 2 y values"},
    {function() plot.curves(path, {{name = "a", x = {1, "q"}, values = {1, 2}}}) end,
      "plot.curves: series 'a' x value 2 is a string, not a number"},
    {function() plot.curves(path, {{name = "a", values = {1}, style = "dots"}}) end,
      "plot.curves: series 'a': style must be \"line\", \"scatter\" or \"both\", got dots"},
    {function() plot.heatmap(path, lunet.zeros(2)) end, "plot.heatmap: matrix must be 2-D, got 1-D"},
    {function() plot.heatmap(path, {{1, 2}, {3}}) end, "plot.heatmap: row 2 has 1 values, row 1 has 2"},
    {function() plot.heatmap(path, {}) end, "plot.heatmap: matrix is empty"},
    {function() plot.curves(path, 3) end, "plot.curves: series must be a table, got number"},
    {function() plot.curves(path, {loss = {1, "x"}}) end,
      "plot.curves: series 'loss' value 2 is a string, not a number"},
    {function() plot.fit(path, {}) end,
      "plot.fit: the estimator has no loss_curve_ (fit it with an iterative solver first)"},
    {function() plot.bars(path, {{"a"}}) end, "plot.bars: bars[1] must be {label, value}"},
    {function() plot.curves("/nonexistent-dir/x.svg", {a = {1}}) end,
      "plot.curves: /nonexistent-dir/x.svg: No such file or directory"},
  }
  for i, c in ipairs(errors) do
    it("raises on bad input " .. i, function()
      local ok, err = pcall(c[1])
      assert.is_false(ok)
      assert.are.equal(c[2], (tostring(err):gsub("^[^:]*:%d+: ", "")))
    end)
  end
end)

describe("lunet._io", function()
  it("isatty is a boolean and checks its argument", function()
    assert.are.equal("boolean", type(lunet._io.isatty(2)))
    assert.has_error(function() lunet._io.isatty(-1) end)
  end)
end)
