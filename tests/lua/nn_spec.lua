-- nn_spec.lua: lunet.nn — layer forward values by hand, gradient checks of every layer and
-- loss in float64, initialization, names, state_dict, Lua-defined modules that train, XOR,
-- Dropout modes, tostring text and error messages.
local lunet = require "lunet"
local nn = require "lunet.nn"
local testing = require "lunet.testing"

local F64 = {dtype = "float64"}
local h = dofile("tests/lua/helpers.lua")
local f64, leaf, near, errmsg = h.f64, h.leaf, h.near, h.errmsg

local function gradcheck_ok(fn, inputs)
  local ok, err, msg = testing.gradcheck(fn, inputs)
  assert(ok, msg)
  assert.is_true(err < 1e-6)
end

local function sigmoid(x) return 1 / (1 + math.exp(-x)) end

describe("nn layers: forward values", function()
  it("Linear computes x W^T + b", function()
    local lin = nn.Linear(3, 2, {dtype = "float64"})
    lin.weight = f64{{0.1, 0.2, 0.3}, {-0.4, 0.5, -0.6}}
    lin.bias = f64{0.05, -0.07}
    local y = lin(f64{{1, -2, 0.5}, {3, 0.25, -1}})
    near(y:totable(), {{-0.1, -1.77}, {0.1, -0.545}})
    assert.same({2, 2}, y:shape())
    near(lin:forward(f64{1, -2, 0.5}):totable(), {-0.1, -1.77})
    assert.equal(3, lin.in_features)
    assert.equal(2, lin.out_features)
  end)

  it("Linear without bias has one parameter", function()
    local lin = nn.Linear(4, 3, {bias = false})
    assert.equal(1, #lin:parameters())
    assert.is_nil(lin.bias)
    assert.equal(12, lin:num_parameters())
    assert.equal("float32", lin.weight:dtype())
  end)

  it("activations match their formulas", function()
    local x = f64{-2, -0.5, 0, 0.3, 1, 2.5}
    local v = x:totable()
    local function map(f) local r = {}; for i, a in ipairs(v) do r[i] = f(a) end; return r end
    near(nn.ReLU()(x):totable(), map(function(a) return math.max(a, 0) end))
    near(nn.LeakyReLU(0.1)(x):totable(), map(function(a) return a > 0 and a or 0.1 * a end))
    near(nn.LeakyReLU()(x):totable(), map(function(a) return a > 0 and a or 0.01 * a end))
    near(nn.Sigmoid()(x):totable(), map(sigmoid))
    near(nn.Tanh()(x):totable(), map(function(a) return math.tanh and math.tanh(a)
      or (math.exp(2 * a) - 1) / (math.exp(2 * a) + 1) end))
    -- GELU(x) = x Φ(x): Φ(1) = 0.841344746068543, Φ(-0.5) = 0.308537538725987
    local g = nn.GELU()(x):totable()
    near(g[5], 0.841344746068543, 1e-12)
    near(g[2], -0.5 * 0.308537538725987, 1e-12)
    near(g[3], 0, 0)
    near(nn.Identity()(x):totable(), v, 0)
  end)

  it("Softmax and LogSoftmax work along the given 1-based dim", function()
    local x = f64{{1, 2, 3}, {0, 0, 0}}
    local e = math.exp
    local s1 = e(1) + e(2) + e(3)
    near(nn.Softmax(2)(x):totable(), {{e(1) / s1, e(2) / s1, e(3) / s1}, {1 / 3, 1 / 3, 1 / 3}})
    near(nn.Softmax(-1)(x):totable(), nn.Softmax(2)(x):totable())
    local c = nn.Softmax(1)(x):totable()            -- down the columns
    near(c[1][1], e(1) / (e(1) + 1))
    near(c[2][3], 1 / (e(3) + 1))
    local l = nn.LogSoftmax(2)(x):totable()
    near(l[1][3], 3 - math.log(s1))
    near(l[2][1], -math.log(3))
  end)

  it("Flatten keeps the batch dim by default", function()
    local x = lunet.zeros(2, 3, 4)
    assert.same({2, 12}, nn.Flatten()(x):shape())
    assert.same({6, 4}, nn.Flatten(1, 2)(x):shape())
    assert.same({24}, nn.Flatten(1)(x):shape())
  end)
end)

describe("nn: gradient checks (float64)", function()
  lunet.manual_seed(1)
  local function x23() return leaf{{-1.5, -0.4, 0.7}, {0.2, 1.1, -0.9}} end

  it("gradcheck itself detects a wrong gradient", function()
    local x = leaf{0.5, -1.5, 2.0}
    -- d(x * detach(x))/dx is x by autograd, 2x in truth
    local ok, err, msg = testing.gradcheck(function(a) return a * a:detach() end, {x})
    assert.is_false(ok)
    assert.is_true(err > 0.1)
    local ana, num = msg:match("^input 1 element 1: analytic (%S+), numeric (%S+)$")
    near(2 * tonumber(ana), tonumber(num), 1e-6)
    assert.has_error(function() testing.gradcheck(function(a) return a end,
      {lunet.ones(2, {requires_grad = true})}) end)
  end)

  it("Linear (input, weight and bias)", function()
    local lin = nn.Linear(3, 4, {dtype = "float64"})
    gradcheck_ok(function(x) return lin(x) end, {x23(), lin.weight, lin.bias})
  end)

  it("every activation layer", function()
    for _, m in ipairs{nn.ReLU(), nn.LeakyReLU(0.2), nn.Sigmoid(), nn.Tanh(), nn.GELU(),
                       nn.Softmax(2), nn.Softmax(1), nn.LogSoftmax(2), nn.Identity(),
                       nn.Flatten(1)} do
      local ok, _, msg = testing.gradcheck(function(x) return m(x) end, {x23()})
      assert(ok, tostring(m) .. ": " .. tostring(msg))
    end
  end)

  it("Dropout in training mode (fixed mask)", function()
    local d = nn.Dropout(0.3, {generator = lunet.Generator(5)})
    -- the mask changes per call: check d(x) = mask * x / 0.7 with the mask of one call
    local x = x23()
    local y = d(x)
    y:sum():backward()
    local g, yv, xv = x.grad:totable(), y:totable(), x:totable()
    for i = 1, 2 do
      for j = 1, 3 do
        local kept = yv[i][j] ~= 0
        near(g[i][j], kept and 1 / 0.7 or 0, 1e-12)
        if kept then near(yv[i][j], xv[i][j] / 0.7, 1e-12) end
      end
    end
  end)

  it("a Sequential MLP", function()
    local mlp = nn.Sequential(nn.Linear(3, 5, {dtype = "float64"}), nn.Tanh(),
                              nn.Linear(5, 2, {dtype = "float64"}))
    local inputs = {x23()}
    for _, p in ipairs(mlp:parameters()) do inputs[#inputs + 1] = p end
    gradcheck_ok(function(x) return mlp(x) end, inputs)
  end)

  it("every loss and reduction", function()
    local logits = function() return leaf{{0.2, -1.0, 0.5}, {1.5, 0.3, -0.7}} end
    local ids = lunet.tensor({3, 1}, {dtype = "int64"})
    local probs = f64{{0.2, 0.3, 0.5}, {0.6, 0.1, 0.3}}
    for _, red in ipairs{"mean", "sum", "none"} do
      local o = {reduction = red}
      gradcheck_ok(function(z) return nn.cross_entropy(z, ids, o) end, {logits()})
      gradcheck_ok(function(z) return nn.cross_entropy(z, probs, o) end, {logits()})
      gradcheck_ok(function(z) return nn.nll_loss(nn.LogSoftmax(2)(z), ids, o) end, {logits()})
      gradcheck_ok(function(a, b) return nn.mse_loss(a, b, o) end,
                   {leaf{{0.1, 0.9}, {-1.2, 2}}, leaf{{0.4, 0.2}, {0.3, 1.1}}})
      gradcheck_ok(function(a, b) return nn.l1_loss(a, b, o) end,
                   {leaf{{0.1, 0.9}, {-1.2, 2}}, leaf{{0.4, 0.2}, {0.3, 1.1}}})
      gradcheck_ok(function(p) return nn.binary_cross_entropy(p, f64{1, 0, 1, 0}, o) end,
                   {leaf{0.3, 0.8, 0.6, 0.15}})
      gradcheck_ok(function(z, t) return nn.binary_cross_entropy_with_logits(z, t, o) end,
                   {leaf{-2.0, 0.3, 1.7, 0.0}, leaf{1, 0, 0.25, 0.5}})
    end
  end)
end)

describe("nn: loss values", function()
  it("cross_entropy takes 1-based class ids", function()
    local logits = f64{{1, 2, 3}, {1, 2, 3}}
    local lse = math.log(math.exp(1) + math.exp(2) + math.exp(3))
    local t = lunet.tensor({3, 1}, {dtype = "int64"})
    near(nn.cross_entropy(logits, t):item(), ((lse - 3) + (lse - 1)) / 2)
    near(nn.cross_entropy(logits, t, {reduction = "sum"}):item(), (lse - 3) + (lse - 1))
    near(nn.cross_entropy(logits, t, {reduction = "none"}):totable(), {lse - 3, lse - 1})
    near(nn.CrossEntropyLoss()(logits, t):item(), ((lse - 3) + (lse - 1)) / 2)
    -- one-hot probabilities give the same value
    near(nn.cross_entropy(logits, f64{{0, 0, 1}, {1, 0, 0}}):item(), ((lse - 3) + (lse - 1)) / 2)
    near(nn.NLLLoss()(nn.LogSoftmax(2)(logits), t):item(), ((lse - 3) + (lse - 1)) / 2)
  end)

  it("regression and binary losses", function()
    local a, b = f64{1, 2, -1}, f64{0, 0, 1}
    near(nn.mse_loss(a, b):item(), (1 + 4 + 4) / 3)
    near(nn.MSELoss({reduction = "sum"})(a, b):item(), 9)
    near(nn.l1_loss(a, b):item(), 5 / 3)
    near(nn.L1Loss()(a, b):item(), 5 / 3)
    near(nn.binary_cross_entropy(f64{0.8, 0.25}, f64{1, 0}):item(),
         -(math.log(0.8) + math.log(0.75)) / 2)
    near(nn.BCELoss()(f64{0.8}, f64{1}):item(), -math.log(0.8))
    near(nn.binary_cross_entropy_with_logits(f64{0, 2}, f64{1, 0}):item(),
         (math.log(2) + math.log(1 + math.exp(2))) / 2)
    near(nn.BCEWithLogitsLoss()(f64{0}, f64{1}):item(), math.log(2))
  end)

  it("rejects bad targets and options with clear messages", function()
    local logits = lunet.zeros(4, 3)
    assert.equal("cross_entropy: target class id 4 is out of range for 3 classes (ids are 1..3)",
      errmsg(nn.cross_entropy, logits, lunet.tensor({1, 2, 3, 4}, {dtype = "int64"})))
    assert.equal("cross_entropy: target class id 0: Lunet's class ids are 1-based: for labels "
      .. "0..K-1 pass y + 1",
      errmsg(nn.cross_entropy, logits, lunet.tensor({0, 1, 2, 3}, {dtype = "int64"})))
    assert.equal("cross_entropy: class ids must be int64: y:long() (got a float32 target of "
      .. "shape [4] for input [4, 3])",
      errmsg(nn.cross_entropy, logits, lunet.tensor{1, 2, 3, 1}))
    assert.equal("nll_loss: class ids must be int64: y:long() (got a float32 target of shape "
      .. "[4, 3] for input [4, 3])",
      errmsg(nn.nll_loss, logits, lunet.zeros(4, 3)))
    assert.equal("cross_entropy: class-id target must have shape [4] for input [4, 3], got [3]",
      errmsg(nn.cross_entropy, logits, lunet.tensor({1, 2, 3}, {dtype = "int64"})))
    assert.equal("cross_entropy: reduction must be 'mean', 'sum' or 'none', got avg",
      errmsg(nn.cross_entropy, logits, lunet.tensor({1, 2, 3, 1}, {dtype = "int64"}),
             {reduction = "avg"}))
    assert.equal("MSELoss: reduction must be 'mean', 'sum' or 'none', got total",
      errmsg(nn.MSELoss, {reduction = "total"}))
  end)
end)

describe("nn: modules", function()
  it("Linear initializes as PyTorch: U(-1/sqrt(in), 1/sqrt(in))", function()
    lunet.manual_seed(0)
    local lin = nn.Linear(64, 16)
    local bound = 1 / 8
    local lo, hi = math.huge, -math.huge
    for _, row in ipairs(lin.weight:totable()) do
      for _, v in ipairs(row) do lo = math.min(lo, v); hi = math.max(hi, v) end
    end
    assert.is_true(lo >= -bound and hi <= bound)
    assert.is_true(lo < -0.9 * bound and hi > 0.9 * bound)
    for _, v in ipairs(lin.bias:totable()) do assert.is_true(math.abs(v) <= bound) end
    assert.is_true(lin.weight:requires_grad())
    -- a generator makes it reproducible
    local a = nn.Linear(5, 3, {generator = lunet.Generator(9)})
    local b = nn.Linear(5, 3, {generator = lunet.Generator(9)})
    assert.same(a.weight:totable(), b.weight:totable())
  end)

  it("parameter fields are stable objects shared with the C layer", function()
    local lin = nn.Linear(2, 2)
    assert.equal(lin.weight, lin.weight)
    assert.equal(lin:parameters()[1], lin.weight)
    local named = lin:named_parameters()
    assert.equal(named.weight, lin.weight)
    assert.equal(named.bias, lin.bias)
    assert.equal("Linear: parameter weight has shape [2, 2], got a tensor of shape [3]",
                 errmsg(function() lin.weight = lunet.zeros(3) end))
    assert.matches("Linear has no parameter 'foo'", errmsg(function() lin.foo = 1 end), 1, true)
  end)

  it("tostring gives PyTorch's text", function()
    assert.equal("Linear(in_features=64, out_features=128, bias=True)",
                 tostring(nn.Linear(64, 128)))
    assert.equal("Linear(in_features=2, out_features=1, bias=False)",
                 tostring(nn.Linear(2, 1, {bias = false})))
    assert.equal("ReLU()", tostring(nn.ReLU()))
    assert.equal("LeakyReLU(negative_slope=0.01)", tostring(nn.LeakyReLU()))
    assert.equal("Dropout(p=0.5)", tostring(nn.Dropout()))
    assert.equal("Dropout(p=0.1)", tostring(nn.Dropout(0.1)))
    assert.equal("Softmax(dim=-1)", tostring(nn.Softmax()))
    assert.equal("LogSoftmax(dim=2)", tostring(nn.LogSoftmax(2)))
    assert.equal("GELU(approximate='none')", tostring(nn.GELU()))
    assert.equal("Flatten(start_dim=2, end_dim=-1)", tostring(nn.Flatten()))
    assert.equal("CrossEntropyLoss()", tostring(nn.CrossEntropyLoss()))
    assert.equal("MSELoss(reduction=sum)", tostring(nn.MSELoss{reduction = "sum"}))
    local seq = nn.Sequential(nn.Linear(2, 8), nn.ReLU(),
                              nn.Sequential(nn.Linear(8, 1), nn.Sigmoid()))
    assert.equal(table.concat({
      "Sequential(",
      "  (0): Linear(in_features=2, out_features=8, bias=True)",
      "  (1): ReLU()",
      "  (2): Sequential(",
      "    (0): Linear(in_features=8, out_features=1, bias=True)",
      "    (1): Sigmoid()",
      "  )",
      ")"}, "\n"), tostring(seq))
    assert.equal("Sequential()", tostring(nn.Sequential()))
  end)

  it("Sequential: add, index, length, names", function()
    local seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    assert.equal(2, #seq)
    seq:add(nn.Linear(4, 2, {bias = false}))
    assert.equal(3, #seq)
    assert.equal("ReLU()", tostring(seq[2]))
    local _, names = seq:named_parameters()
    assert.same({"0.weight", "0.bias", "2.weight"}, names)
    assert.same({2, 4}, seq[3].weight:shape())
    assert.same({5, 2}, seq(lunet.randn(5, 3)):shape())
    assert.equal(3 * 4 + 4 + 4 * 2, seq:num_parameters())
    assert.equal("Sequential:add: expected a module, got number", errmsg(seq.add, seq, 3))
    assert.equal("Sequential: argument 2 is not a module (got string)",
                 errmsg(nn.Sequential, nn.ReLU(), "relu"))
  end)

  it("Sequential runs C layers in one call, a Linear and its ReLU fused, with the same bits", function()
    lunet.manual_seed(3)
    local seq = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 2))
    local x = lunet.randn(7, 6)
    local function grads()
      local g = {}
      for i, p in ipairs(seq:parameters()) do g[i] = p.grad:clone(); p.grad = nil end
      return g
    end
    local y = seq(x)
    y:pow(2):sum():backward()
    local g1 = grads()
    local h = x                                -- the layers one by one
    for i = 1, #seq do h = seq[i](h) end
    h:pow(2):sum():backward()
    local g2 = grads()
    assert.same(h:totable(), y:totable())
    for i = 1, #g1 do assert.same(g2[i]:totable(), g1[i]:totable()) end
    assert.equal("linear", y:grad_fn())
    assert.equal("linear_relu", nn.Sequential(nn.Linear(6, 8), nn.ReLU())(x):grad_fn())
    assert.equal("relu", nn.Sequential(nn.ReLU(), nn.ReLU())(x:clone():requires_grad_()):grad_fn())
    -- a child that is a Lua module, a child replaced, a non-tensor input: the general loop
    local Twice = nn.Module("Twice")
    function Twice:forward(t) return t * 2 end
    local mixed = nn.Sequential(nn.Linear(6, 8), Twice(), nn.ReLU())
    assert.same(mixed[3](mixed[2](mixed[1](x))):totable(), mixed(x):totable())
    mixed[2] = nn.Identity()
    assert.same(mixed[3](mixed[1](x)):totable(), mixed(x):totable())
    local Pair = nn.Module("Pair")
    function Pair:forward(t) return t[1] + t[2] end
    assert.same({3}, nn.Sequential(Pair())({lunet.ones(1), lunet.ones(1) * 2}):totable())
    -- an error inside is the child's own
    assert.matches("Linear: expected input with 6 features, got 3", errmsg(seq, lunet.randn(2, 3)))
  end)

  it("Lua modules register modules and Parameters in assignment order", function()
    local Net = nn.Module("Net")
    function Net:init(n_in, n_out)
      self.fc = nn.Linear(n_in, n_out)
      self.note = "not a parameter"
      self.plain = lunet.ones(1)               -- a plain tensor is not registered
      self.scale = nn.Parameter(lunet.ones(1))
      self.head = nn.Sequential(nn.ReLU(), nn.Linear(n_out, 1))
    end
    function Net:forward(x) return self.head(self.fc(x) * self.scale) end
    local net = Net(3, 2)
    local map, names = net:named_parameters()
    assert.same({"fc.weight", "fc.bias", "scale", "head.1.weight", "head.1.bias"}, names)
    assert.equal(net.fc.weight, map["fc.weight"])
    assert.equal(5, #net:parameters())
    assert.equal(3 * 2 + 2 + 1 + 2 + 1, net:num_parameters())
    assert.same({4, 1}, net(lunet.randn(4, 3)):shape())
    assert.is_true(net.scale:requires_grad())
    assert.equal(table.concat({
      "Net(",
      "  (fc): Linear(in_features=3, out_features=2, bias=True)",
      "  (head): Sequential(",
      "    (0): ReLU()",
      "    (1): Linear(in_features=2, out_features=1, bias=True)",
      "  )",
      ")"}, "\n"), tostring(net))
    -- a module used twice contributes its parameters once
    local Twice = nn.Module("Twice")
    function Twice:init() self.a = nn.Linear(2, 2); self.b = self.a end
    assert.equal(2, #Twice():parameters())
    local sd = Twice():state_dict()
    assert.is_not_nil(sd["a.weight"])
    assert.is_not_nil(sd["b.weight"])
  end)

  it("forward must be defined", function()
    local Empty = nn.Module("Empty")
    assert.equal("Empty: forward is not defined", errmsg(function() Empty()(lunet.ones(1)) end))
  end)

  it("zero_grad clears accumulated gradients", function()
    local lin = nn.Linear(2, 1)
    lin(lunet.ones(3, 2)):sum():backward()
    near(lin.bias.grad:totable(), {3}, 0)
    lin:zero_grad()
    near(lin.bias.grad:totable(), {0}, 0)
    local seq = nn.Sequential(lin)
    lin(lunet.ones(3, 2)):sum():backward()
    seq:zero_grad()
    near(lin.weight.grad:totable(), {{0, 0}}, 0)
    -- a gradient held in a variable sees the zeros too; the next backward starts from them
    lin(lunet.ones(3, 2)):sum():backward()
    local g = lin.weight.grad
    near(g:totable(), {{3, 3}}, 0)
    lin:zero_grad()
    near(g:totable(), {{0, 0}}, 0)
    g = nil
    for _ = 1, 3 do
      lin:zero_grad()
      lin(lunet.ones(2, 2)):sum():backward()
    end
    near(lin.weight.grad:totable(), {{2, 2}}, 0)
    near(lin.bias.grad:totable(), {2}, 0)
  end)
end)

describe("nn: functional forms", function()
  it("nn.functional matches the layers", function()
    local F = nn.functional
    local x = f64{{-1, 0.5, 2}, {3, -2, 0}}
    near(F.relu(x):totable(), {{0, 0.5, 2}, {3, 0, 0}}, 0)
    near(F.leaky_relu(x, 0.5):totable(), {{-0.5, 0.5, 2}, {3, -1, 0}}, 0)
    near(F.softmax(x, 1):totable(), nn.Softmax(1)(x):totable(), 0)
    near(F.log_softmax(x):totable(), nn.LogSoftmax(2)(x):totable(), 0)
    near(F.sigmoid(x):totable(), nn.Sigmoid()(x):totable(), 0)
    near(F.tanh(x):totable(), nn.Tanh()(x):totable(), 0)
    near(F.gelu(x):totable(), nn.GELU()(x):totable(), 0)
    near(F.dropout(x, 0.9, false):totable(), x:totable(), 0)
    near(F.linear(x, f64{{1, 1, 1}}, f64{0.5}):totable(), {{2}, {1.5}}, 1e-15)
    near(F.linear(x, f64{{1, 1, 1}}):totable(), {{1.5}, {1}}, 1e-15)
    assert.equal("dropout: probability has to be between 0 and 1, but got 2",
                 errmsg(F.dropout, x, 2))
  end)

  it("Sequential refuses what is not a module", function()
    assert.equal("Sequential: argument 2 is not a module (got string)",
                 errmsg(nn.Sequential, nn.ReLU(), "relu"))
  end)
end)

describe("nn: state_dict", function()
  local Net = nn.Module("SDNet")
  function Net:init()
    self.fc = nn.Linear(3, 2)
    self.scale = nn.Parameter(lunet.ones(1))
  end
  function Net:forward(x) return self.fc(x) * self.scale end

  it("round-trips values into another instance", function()
    local a, b = Net(), Net()
    local sd, names = a:state_dict()
    assert.same({"fc.weight", "fc.bias", "scale"}, names)
    assert.is_false(sd["fc.weight"]:requires_grad())
    b:load_state_dict(sd)
    assert.same(a.fc.weight:totable(), b.fc.weight:totable())
    assert.same(a.fc.bias:totable(), b.fc.bias:totable())
    -- the state dict shares storage with the parameters (as PyTorch)
    lunet.no_grad(function() a.scale:fill_(3) end)
    near(sd.scale:totable(), {3}, 0)
    -- C layers have it too
    local lin = nn.Linear(3, 2)
    lin:load_state_dict(a.fc:state_dict())
    assert.same(a.fc.weight:totable(), lin.weight:totable())
    assert.is_true(lin.weight:requires_grad())
  end)

  it("strict loading names missing, unexpected and mis-shaped keys", function()
    local net = Net()
    local sd = net:state_dict()
    sd.scale = nil
    assert.equal("load_state_dict: missing key scale (shape [1])",
                 errmsg(net.load_state_dict, net, sd))
    sd.scale, sd.extra = lunet.ones(1), lunet.zeros(2)
    assert.equal("load_state_dict: unexpected key extra (shape [2])",
                 errmsg(net.load_state_dict, net, sd))
    sd.extra = nil
    sd["fc.weight"] = lunet.zeros(3, 2)
    assert.equal("load_state_dict: size mismatch for fc.weight: shape [3, 2] in the state dict,"
                 .. " [2, 3] in the model", errmsg(net.load_state_dict, net, sd))
    -- non-strict: loads what matches, reports the rest
    local before = net.fc.weight:totable()
    local sd2 = {scale = lunet.full({1}, 7), other = lunet.ones(1)}
    local missing, unexpected = net:load_state_dict(sd2, false)
    assert.same({"fc.weight", "fc.bias"}, missing)
    assert.same({"other"}, unexpected)
    near(net.scale:totable(), {7}, 0)
    assert.same(before, net.fc.weight:totable())
  end)
end)

describe("nn: training", function()
  it("a Lua-defined module trains (loss falls)", function()
    lunet.manual_seed(3)
    local Net = nn.Module("Reg")
    function Net:init()
      self.fc = nn.Linear(2, 1)
      self.scale = nn.Parameter(lunet.ones(1))
    end
    function Net:forward(x) return self.fc(x) * self.scale end
    local net = Net()
    local X = lunet.randn(64, 2)
    local y = (X:narrow(2, 1, 1) * 2 - X:narrow(2, 2, 1) * 3 + 0.5)
    local first, last
    for step = 1, 200 do
      net:zero_grad()
      local loss = nn.mse_loss(net(X), y)
      loss:backward()
      lunet.no_grad(function()
        for _, p in ipairs(net:parameters()) do p:sub_(p.grad * 0.05) end
      end)
      if step == 1 then first = loss:item() end
      last = loss:item()
    end
    assert.is_true(last < first * 0.01, ("loss %g -> %g"):format(first, last))
  end)

  it("a 2-layer MLP learns XOR", function()
    lunet.manual_seed(0)
    local X = lunet.tensor{{0, 0}, {0, 1}, {1, 0}, {1, 1}}
    local y = lunet.tensor{{0}, {1}, {1}, {0}}
    local mlp = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    local crit = nn.BCEWithLogitsLoss()
    for _ = 1, 2000 do
      mlp:zero_grad()
      crit(mlp(X), y):backward()
      lunet.no_grad(function()
        for _, p in ipairs(mlp:parameters()) do p:sub_(p.grad * 0.5) end
      end)
    end
    local pred = mlp(X):gt(0):totable()
    assert.same({{0}, {1}, {1}, {0}}, pred)
  end)

  it("Dropout obeys train and eval, also through containers", function()
    local d = nn.Dropout(0.5)
    assert.is_true(d.training)
    local y = d(lunet.ones(1000)):totable()
    local zeros = 0
    for _, v in ipairs(y) do
      assert(v == 0 or v == 2, "inverted dropout gives 0 or 2, got " .. v)
      if v == 0 then zeros = zeros + 1 end
    end
    assert.is_true(zeros > 400 and zeros < 600)
    local Net = nn.Module("DNet")
    function Net:init() self.body = nn.Sequential(nn.Identity(), d) end
    function Net:forward(x) return self.body(x) end
    local net = Net()
    assert.equal(net, net:eval())
    assert.is_false(d.training)
    assert.is_false(net.training)
    assert.is_false(net.body.training)
    near(net(lunet.ones(5)):totable(), {1, 1, 1, 1, 1}, 0)
    net:train()
    assert.is_true(d.training)
    assert.equal("Dropout: probability has to be between 0 and 1, but got 1.5",
                 errmsg(nn.Dropout, 1.5))
  end)
end)

describe("nn.init", function()
  local function range(t)
    local lo, hi, sum, n = math.huge, -math.huge, 0, 0
    local flat = t:reshape(-1):totable()
    for _, v in ipairs(flat) do lo = math.min(lo, v); hi = math.max(hi, v); sum = sum + v; n = n + 1 end
    return lo, hi, sum / n
  end

  it("xavier and kaiming uniform use PyTorch's bounds", function()
    lunet.manual_seed(11)
    local t = lunet.empty(30, 20)
    nn.init.xavier_uniform_(t)
    local lo, hi = range(t)
    local a = math.sqrt(6 / 50)
    assert.is_true(lo >= -a and hi <= a and lo < -0.9 * a and hi > 0.9 * a)
    nn.init.xavier_uniform_(t, 2)
    lo, hi = range(t)
    assert.is_true(hi <= 2 * a and hi > 1.8 * a)
    nn.init.kaiming_uniform_(t, {a = math.sqrt(5)})     -- Linear's rule: 1/sqrt(fan_in)
    lo, hi = range(t)
    assert.is_true(lo >= -1 / math.sqrt(20) and hi <= 1 / math.sqrt(20) and hi > 0.2)
    nn.init.kaiming_uniform_(t, {mode = "fan_out", nonlinearity = "relu"})
    lo, hi = range(t)
    local b = math.sqrt(2) * math.sqrt(3 / 30)
    assert.is_true(hi <= b and hi > 0.9 * b)
  end)

  it("normal initializers have the right spread", function()
    lunet.manual_seed(12)
    local t = lunet.empty(200, 100, {dtype = "float64"})
    nn.init.normal_(t, 1.0, 0.5)
    near(t:mean():item(), 1.0, 0.01)
    near(t:std():item(), 0.5, 0.01)
    nn.init.xavier_normal_(t)
    near(t:std():item(), math.sqrt(2 / 300), 0.002)
    nn.init.kaiming_normal_(t, {nonlinearity = "relu"})
    near(t:std():item(), math.sqrt(2 / 100), 0.003)
  end)

  it("constant fills and gains", function()
    local t = lunet.empty(2, 2)
    near(nn.init.constant_(t, 0.25):totable(), {{0.25, 0.25}, {0.25, 0.25}}, 0)
    near(nn.init.zeros_(t):totable(), {{0, 0}, {0, 0}}, 0)
    near(nn.init.ones_(t):totable(), {{1, 1}, {1, 1}}, 0)
    nn.init.uniform_(t, 2, 3)
    local lo, hi = range(t)
    assert.is_true(lo >= 2 and hi < 3)
    near(nn.init.calculate_gain("tanh"), 5 / 3)
    near(nn.init.calculate_gain("leaky_relu", 0.2), math.sqrt(2 / 1.04))
  end)

  it("initializes parameters in place, outside autograd", function()
    local lin = nn.Linear(4, 3)
    local w = lin.weight
    nn.init.zeros_(lin.bias)
    nn.init.xavier_uniform_(lin.weight)
    assert.equal(w, lin.weight)
    assert.is_true(lin.weight:requires_grad())
    near(lin.bias:totable(), {0, 0, 0}, 0)
  end)

  it("says why it cannot compute fans", function()
    assert.equal("xavier_uniform_: fan in and fan out can not be computed for a tensor with "
                 .. "fewer than 2 dimensions (shape [5])",
                 errmsg(nn.init.xavier_uniform_, lunet.empty(5)))
  end)
end)

describe("nn: bad input", function()
  it("Linear names expected and actual features", function()
    local lin = nn.Linear(64, 128)
    assert.equal("Linear: expected input with 64 features, got 32 (input shape [200, 32])",
                 errmsg(lin, lunet.zeros(200, 32)))
    assert.equal("Linear: input is float64 but the layer's weight is float32",
                 errmsg(lin, lunet.zeros(2, 64, F64)))
  end)

  it("constructors and modules check their arguments", function()
    assert.equal("Linear: in_features and out_features must be positive, got 0 and 3",
                 errmsg(nn.Linear, 0, 3))
    assert.equal("Softmax: dimension 0 is invalid: dims are 1-based (1 is the first, -1 the last)",
                 errmsg(nn.Softmax, 0))
    assert.matches("number expected", errmsg(nn.Linear, "a", 3), 1, true)
    assert.equal("nn.Parameter: expected a tensor, got table", errmsg(nn.Parameter, {}))
    assert.equal("load_state_dict: expected a table of name -> tensor, got string",
                 errmsg(function() nn.Linear(1, 1):load_state_dict("x") end))
    local lin = nn.Linear(1, 1)
    lin:close()
    assert.equal("closed module", errmsg(function() return lin.weight end))
  end)
end)
