-- help_spec.lua: help text comes from docs/API.md for every public name; the REPL's printer.
local lunet = require "lunet"
local help = require "lunet.help"

describe("help", function()
  it("reads the source tree's docs/API.md", function()
    local p = help.api_path()
    assert.is_truthy(p)
    assert.is_truthy(p:match("docs/API%.md$"))
  end)

  -- the test that keeps API.md and help one source: a public function, class, submodule or
  -- method without an entry in docs/API.md fails here, naming it
  it("has an entry in docs/API.md for every public name", function()
    local names = help.public_names()
    assert.is_true(#names > 200)
    local missing = {}
    for _, e in ipairs(names) do
      if help.doc(e.value) == nil then missing[#missing + 1] = e.qualified end
    end
    assert.are.same({}, missing)
  end)

  it("walks the lazy submodules, the estimators and the methods of each type", function()
    local seen = {}
    for _, e in ipairs(help.public_names()) do seen[e.qualified] = e.kind end
    for _, q in ipairs{"lunet.nn", "lunet.optim", "lunet.data", "lunet.metrics"} do
      assert.are.equal("module", seen[q])
    end
    assert.are.equal("class", seen["lunet.MLPClassifier"])
    assert.are.equal("function", seen["lunet.zeros"])
    assert.are.equal("function", seen["lunet.nn.Linear"])
    assert.are.equal("method", seen["Tensor:sum"])
    assert.are.equal("method", seen["Module:parameters"])
    assert.are.equal("method", seen["Optimizer:step"])
  end)

  it("gives the signature and the sentence around it", function()
    local sig, desc, section = help.doc(lunet.nn.Linear)
    assert.are.equal("Linear(in, out [, {bias = true}])", sig)
    assert.is_truthy(desc:find("weight is out×in", 1, true))
    assert.is_truthy(section:find("lunet.nn", 1, true))
    sig = help.doc("optim.Adam")
    assert.is_truthy(sig:match("^Adam%(params"))
    -- a method of tensors is found in the Tensors section, not as seq:add
    local _, d2, s2 = help.doc("Tensor:add")
    assert.are.equal("Tensors", s2)
    assert.is_truthy(d2:find("broadcasting", 1, true))
    assert.is_nil(help.doc("no_such_function_anywhere"))
  end)

  it("explains names, values and modules", function()
    assert.is_truthy(help.text("lunet.save"):find("lunet.save(path, obj)", 1, true))
    assert.is_truthy(help.text(lunet.ones(2, 3)):find("^Tensor float32 %[2, 3%]"))
    assert.is_truthy(help.text(lunet.optim):find("SGD", 1, true))
    assert.is_truthy(help.text():find("?x", 1, true))
    assert.is_truthy(help.text("zzz_nothing"):find("no entry for zzz_nothing", 1, true))
  end)
end)

describe("help.pretty", function()
  it("prints tables nested, sorted, with tensors by dtype and shape", function()
    assert.are.equal("{1, 2, 3}", help.pretty({1, 2, 3}))
    assert.are.equal('{a = 1, b = {s = "x", t = tensor int64 [2]}}',
                     help.pretty({a = 1, b = {t = lunet.tensor({1, 2}, {dtype = "int64"}), s = "x"}}))
    local long = {}
    for i = 1, 30 do long["key" .. i] = i end
    local s = help.pretty(long)
    assert.is_truthy(s:find("^{\n  key1 = 1,\n  key10 = 10,"))
    local cyc = {}
    cyc.me = cyc
    assert.are.equal("{me = <cycle>}", help.pretty(cyc))
    local many = {}
    for i = 1, 50 do many[i] = i end
    assert.is_truthy(help.pretty(many):find("... (10 more)", 1, true))
  end)

  it("leaves non-tables to tostring", function()
    assert.are.equal("hi", help.pretty("hi"))
    assert.are.equal("3", help.pretty(3))
    assert.are.equal(tostring(lunet.ones(2)), help.pretty(lunet.ones(2)))
    local m = lunet.nn.Linear(2, 2)
    assert.are.equal(tostring(m), help.pretty(m))
  end)
end)
