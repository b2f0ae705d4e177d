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

  local errors = {
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
