-- summary_spec.lua: nn.summary (lunet/summary.lua), a torchinfo-like table of a model.
local lunet = require "lunet"
local nn = lunet.nn

describe("nn.summary", function()
  it("lists each layer's output shape and parameter count, with totals", function()
    local m = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    local s = nn.summary(m, {2, 784})
    assert.are.equal(table.concat({
      "Layer (type)  Output Shape  Param #",
      "===================================",
      "Sequential    [2, 10]       --",
      "  (0) Linear  [2, 256]      200,960",
      "  (1) ReLU    [2, 256]      --",
      "  (2) Linear  [2, 10]       2,570",
      "===================================",
      "Total params: 203,530",
      "Trainable params: 203,530",
      "Non-trainable params: 0",
      "Input shape: [2, 784] float32",
      "Params size: 0.78 MB"}, "\n"), tostring(s))
    assert.are.equal(203530, s.total)
    assert.are.equal(203530, s.trainable)
    assert.are.same({name = "2", type = "Linear", depth = 1, shape = "[2, 10]", params = 2570},
                    s.rows[4])
    -- the model is as it was: the C fast path and the same result
    local x = lunet.randn(3, 784)
    assert.are.same(m(x):totable(), lunet.no_grad(function() return m[3](m[2](m[1](x))) end):totable())
  end)

  it("walks Lua modules, their C layers and own parameters; frozen ones are non-trainable", function()
    local Net = nn.Module("SummaryNet")
    function Net:init()
      self.fc = nn.Linear(4, 3)
      self.body = nn.Sequential(nn.Tanh(), nn.Linear(3, 2, {dtype = "float32"}))
      self.scale = nn.Parameter(lunet.ones(2))
    end
    function Net:forward(x) return self.body(self.fc(x)) * self.scale end
    local n = Net()
    n.fc.weight:set_requires_grad(false)
    local s = nn.summary(n, lunet.zeros(5, 4))
    assert.matches("^Layer %(type%)", s.text)
    local want = {{nil, "SummaryNet", 0, "[5, 2]", 2}, {"fc", "Linear", 1, "[5, 3]", 15},
                  {"body", "Sequential", 1, "[5, 2]", 0}, {"0", "Tanh", 2, "[5, 3]", 0},
                  {"1", "Linear", 2, "[5, 2]", 8}}
    for i, w in ipairs(want) do
      assert.are.same({name = w[1], type = w[2], depth = w[3], shape = w[4], params = w[5]},
                      s.rows[i])
    end
    assert.are.equal(25, s.total)
    assert.are.equal(13, s.trainable)
    assert.truthy(s.text:find("\nNon-trainable params: 12\n", 1, true))
    assert.truthy(s.text:find("\n    (1) Linear       [5, 2]        8\n", 1, true))
    -- forward and the C field are back
    assert.is_true(nn.is_module(n.fc))
    assert.are.equal(Net.forward, n.forward)
  end)

  it("leaves the model as it was when its forward raises, and checks its arguments", function()
    local m = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    local ok, e = pcall(nn.summary, m, {2, 5})
    assert.is_false(ok)
    assert.matches("Linear: expected input with 4 features, got 5", tostring(e))
    assert.are.same({2, 3}, m(lunet.zeros(2, 4)):shape())
    assert.are.equal(nn.Sequential.forward, m.forward)
    local line = debug.getinfo(1, "l").currentline + 1
    ok, e = pcall(function() nn.summary(m, {2, 1.5}) end)
    assert.are.equal("summary_spec.lua:" .. line .. ": nn.summary: input_shape[2] must be a "
                     .. "non-negative integer, got 1.5", tostring(e):match("[^/]*$"))
    assert.has_error(function() nn.summary({}, {1}) end, "nn.summary: expected a module, got table")
    assert.has_error(function() nn.summary(m) end,
      "nn.summary: input_shape must be a table of sizes (batch first) or a tensor, got nil")
  end)
end)
