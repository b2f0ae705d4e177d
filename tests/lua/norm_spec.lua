-- norm_spec.lua: the normalization, average/adaptive pooling and upsampling layers
-- (nn.BatchNorm1d/2d, LayerNorm, GroupNorm, Dropout2d, AvgPool1d/2d, AdaptiveAvgPool2d,
-- AdaptiveMaxPool2d, Upsample) against PyTorch's numbers in tests/fixtures/norm.lua
-- (scripts/make_norm_fixtures.py): outputs, running statistics over training steps, eval mode,
-- gradients, a PyTorch net's state_dict; float64 gradient checks through the layers; train/eval
-- behaviour; state_dict names; PyTorch's printing; bad input.
local lunet = require "lunet"
local nn = lunet.nn
local testing = lunet.testing
local h = dofile("tests/lua/helpers.lua")
local fixtures = dofile("tests/fixtures/norm.lua")

local from = h.fixture
local maxdiff = h.maxdiff

-- the layer of fixture case c, with c's state loaded (opts: c's options, changed by over)
local function build(c, over)
  local opts = {}
  for k, v in pairs(c.opts) do opts[k] = v end
  for k, v in pairs(over or {}) do opts[k] = v end
  local args = {table.unpack(c.args)}
  args[#args + 1] = opts
  local m = nn[c.cls](table.unpack(args))
  local sd = {}
  for k, v in pairs(c.state.tensors) do sd[k] = from(v) end
  m:load_state_dict(sd)
  return m
end

local function gradcheck_ok(fn, inputs)
  local ok, err, msg = testing.gradcheck(fn, inputs)
  assert(ok, msg or ("max error " .. tostring(err)))
end

describe("normalization, pooling and upsampling layers against PyTorch", function()
  for _, c in ipairs(fixtures.layers) do
    it(c.label, function()
      local m = build(c)
      local _, names = m:state_dict()
      assert.are.same(c.state.names, names)
      for i, s in ipairs(c.steps) do
        local where = ("%s, step %d"):format(c.label, i)
        m:train(s.training)
        m:zero_grad()
        local x = from(s.x, true)
        local y, idx = m(x)
        assert.is_true(maxdiff(y, from(s.y)) < 1e-12, where .. ": output differs")
        if s.indices then
          assert.are.equal("int64", idx:dtype())
          assert.are.same(from(s.indices):to("int64"):totable(), idx:totable())
        end
        if s.running_mean then
          assert.is_true(maxdiff(m.running_mean, from(s.running_mean)) < 1e-12, where .. ": running_mean")
          assert.is_true(maxdiff(m.running_var, from(s.running_var)) < 1e-12, where .. ": running_var")
          assert.are.equal(s.num_batches_tracked, m.num_batches_tracked:item())
          assert.are.equal("int64", m.num_batches_tracked:dtype())
        end
        ;(y * from(s.wy)):sum():backward()
        assert.is_true(maxdiff(x.grad, from(s.dx)) < 1e-12, where .. ": input gradient differs")
        for name, g in pairs(s.dparams or {}) do
          assert.is_true(maxdiff(m[name].grad, from(g)) < 1e-12, where .. ": " .. name .. " gradient differs")
        end
      end
    end)
  end

  it("float32 layers give PyTorch's float64 numbers to float precision", function()
    for _, c in ipairs(fixtures.layers) do
      local m = build(c, c.opts.dtype and {dtype = "float32"} or nil)
      for _, s in ipairs(c.steps) do
        m:train(s.training)
        local y = m(from(s.x):to("float32"))
        assert.are.equal("float32", y:dtype())
        assert.is_true(maxdiff(y, from(s.y)) < 1e-4, c.label)
      end
    end
  end)

  it("a PyTorch net's state_dict (conv, BatchNorm2d, Linear) loads and predicts the same in eval mode", function()
    local c = fixtures.net
    local net = nn.Sequential(nn.Conv2d(1, 4, 3, {padding = 1, dtype = "float64"}),
                              nn.BatchNorm2d(4, {dtype = "float64"}), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(36, 3, {dtype = "float64"}))
    local _, names = net:state_dict()
    assert.are.same(c.state.names, names)
    local sd = {}
    for k, v in pairs(c.state.tensors) do sd[k] = from(v) end
    sd["1.num_batches_tracked"] = sd["1.num_batches_tracked"]:to("int64")
    net:load_state_dict(sd)
    assert.are.equal(3, net[2].num_batches_tracked:item())
    net:eval()
    assert.is_true(maxdiff(net(from(c.x)), from(c.y)) < 1e-12)
    net:train()   -- batch statistics now: a different answer
    assert.is_true(maxdiff(net(from(c.x)), from(c.y)) > 1e-3)
  end)
end)

describe("gradients through the layers (float64 finite differences)", function()
  local function x64(...) return (lunet.randn(...):to("float64") * 1.5 + 0.3):set_requires_grad(true) end
  local function affine(m)   -- weight and bias away from 1 and 0, so their gradients count
    lunet.no_grad(function()
      m.weight:copy_(lunet.randn(m.weight:shape()):to("float64") * 0.5 + 1)
      m.bias:copy_(lunet.randn(m.bias:shape()):to("float64") * 0.5)
    end)
    return m
  end
  lunet.manual_seed(7)
  local cases = {
    {"BatchNorm2d training", affine(nn.BatchNorm2d(3, {dtype = "float64"})), {3, 3, 2, 3}},
    {"BatchNorm1d training on [N, C]", affine(nn.BatchNorm1d(4, {dtype = "float64"})), {5, 4}},
    {"BatchNorm1d eval (running statistics)", affine(nn.BatchNorm1d(2, {dtype = "float64"})):eval(), {3, 2, 4}},
    {"BatchNorm2d without running statistics in eval",
     affine(nn.BatchNorm2d(2, {dtype = "float64", track_running_stats = false})):eval(), {2, 2, 3, 2}},
    {"LayerNorm over two dims", affine(nn.LayerNorm({3, 4}, {dtype = "float64"})), {2, 3, 4}},
    {"GroupNorm", affine(nn.GroupNorm(2, 4, {dtype = "float64"})), {2, 4, 3}},
    {"AvgPool2d ceil_mode, count_include_pad false",
     nn.AvgPool2d(3, {stride = 2, padding = 1, ceil_mode = true, count_include_pad = false}), {1, 2, 5, 6}},
    {"AvgPool1d", nn.AvgPool1d(2, {stride = 1, padding = 1}), {2, 2, 5}},
    {"AdaptiveAvgPool2d", nn.AdaptiveAvgPool2d({3, 2}), {1, 2, 5, 5}},
    {"AdaptiveMaxPool2d", nn.AdaptiveMaxPool2d(2), {1, 2, 5, 3}},
    {"Upsample nearest", nn.Upsample({scale_factor = 1.5}), {1, 2, 3, 4}},
    {"Upsample bilinear", nn.Upsample({size = {5, 3}, mode = "bilinear"}), {1, 2, 3, 4}},
    {"Upsample bilinear align_corners", nn.Upsample({scale_factor = 2, mode = "bilinear", align_corners = true}),
     {1, 1, 3, 3}},
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      local m = c[2]
      local inputs = {x64(table.unpack(c[3]))}
      for _, p in ipairs(m:parameters()) do inputs[#inputs + 1] = p end
      gradcheck_ok(function(x) return m(x) end, inputs)
    end)
  end
end)

describe("batch norm: train and eval", function()
  it("training moves the running statistics and counts batches; eval uses them and changes nothing", function()
    lunet.manual_seed(1)
    local bn = nn.BatchNorm2d(2, {dtype = "float64"})
    local x = lunet.randn(4, 2, 3, 3):to("float64") * 2 + 1
    bn(x)
    local per = x:transpose(1, 2):reshape(2, -1)                -- [C, N·H·W]
    local mean = per:mean(2)
    local var = ((per - mean:view(2, 1)) ^ 2):sum(2) / (4 * 3 * 3 - 1)
    assert.is_true(maxdiff(bn.running_mean, mean * 0.1) < 1e-12)
    assert.is_true(maxdiff(bn.running_var, var * 0.1 + 0.9) < 1e-12)
    assert.are.equal(1, bn.num_batches_tracked:item())
    bn:eval()
    local rm, rv = bn.running_mean:clone(), bn.running_var:clone()
    local y = bn(x)
    local want = (x - rm:view(1, 2, 1, 1)) / (rv:view(1, 2, 1, 1) + 1e-5):sqrt()
    assert.is_true(maxdiff(y, want) < 1e-12)
    assert.are.equal(0, maxdiff(bn.running_mean, rm))
    assert.are.equal(1, bn.num_batches_tracked:item())
    assert.is_false(bn.training)
    bn:train()
    assert.is_true(bn.training)
  end)

  it("momentum false keeps the cumulative average of the batch statistics", function()
    lunet.manual_seed(2)
    local bn = nn.BatchNorm1d(3, {momentum = false, dtype = "float64"})
    local sum = lunet.zeros(3, {dtype = "float64"})
    for _ = 1, 4 do
      local x = lunet.randn(5, 3):to("float64")
      sum = sum + x:mean(1)
      bn(x)
    end
    assert.is_true(maxdiff(bn.running_mean, sum / 4) < 1e-12)
    assert.are.equal(4, bn.num_batches_tracked:item())
  end)

  it("inside a Sequential, model:eval() reaches it", function()
    local model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU())
    model:eval()
    assert.is_false(model[2].training)
    model(lunet.randn(2, 3))
    assert.are.equal(0, model[2].num_batches_tracked:item())
    assert.are.same({0, 0, 0, 0}, model[2].running_mean:totable())
  end)

  it("buffers are in state_dict but not in parameters(), so an optimizer leaves them alone", function()
    local bn = nn.BatchNorm2d(3)
    assert.are.equal(2, #bn:parameters())
    assert.are.equal(6, bn:num_parameters())
    local _, names = bn:state_dict()
    assert.are.same({"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}, names)
    assert.is_true(nn.is_buffer(bn.running_mean))
    assert.is_false(nn.is_parameter(bn.running_var))
    assert.are.same({}, bn.num_batches_tracked:shape())
    local _, n2 = nn.BatchNorm1d(3, {affine = false}):state_dict()
    assert.are.same({"running_mean", "running_var", "num_batches_tracked"}, n2)
    local _, n3 = nn.BatchNorm1d(3, {track_running_stats = false}):state_dict()
    assert.are.same({"weight", "bias"}, n3)
  end)

  it("a state_dict round trip (through a safetensors file) gives the same eval outputs", function()
    lunet.manual_seed(3)
    local bn = nn.BatchNorm2d(3)
    for _ = 1, 3 do bn(lunet.randn(4, 3, 2, 2) + 2) end
    local path = os.tmpname()
    lunet.save(path, bn:state_dict())
    local other = nn.BatchNorm2d(3)
    other:load_state_dict((lunet.load(path)))
    os.remove(path)
    assert.are.equal(3, other.num_batches_tracked:item())
    bn:eval(); other:eval()
    local x = lunet.randn(2, 3, 2, 2)
    assert.are.equal(0, maxdiff(bn(x), other(x)))
  end)

  it("a refused input changes neither the running statistics nor the count", function()
    local bn = nn.BatchNorm1d(3)
    assert.has_error(function() bn(lunet.randn(1, 3)) end)   -- one value per channel
    assert.are.equal(0, bn.num_batches_tracked:item())
    assert.are.same({0, 0, 0}, bn.running_mean:totable())
  end)

  it("a model with BatchNorm2d learns: the loss falls in a few Adam steps", function()
    lunet.manual_seed(4)
    local model = nn.Sequential(nn.Conv2d(1, 4, 3, {padding = 1}), nn.BatchNorm2d(4), nn.ReLU(),
                                nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    local x, y = lunet.randn(12, 1, 8, 8), lunet.randint(1, 4, {12})
    local first, last = h.train_losses(model, x, y, 30)
    assert.is_true(last < first * 0.5, ("loss %g -> %g"):format(first, last))
    assert.are.equal(30, model[2].num_batches_tracked:item())
  end)
end)

describe("Dropout2d", function()
  it("zeroes whole channels and scales the rest by 1/(1-p) in training; identity in eval", function()
    local d = nn.Dropout2d(0.5, {generator = lunet.Generator(5)})
    local x = lunet.ones(8, 16, 3, 3)
    local y = d(x)
    local per = y:sum(4):sum(3):totable()
    local zeros = 0
    for i = 1, 8 do
      for j = 1, 16 do
        assert.is_true(per[i][j] == 0 or per[i][j] == 18)
        if per[i][j] == 0 then zeros = zeros + 1 end
      end
    end
    assert.is_true(zeros > 20 and zeros < 108)
    d:eval()
    assert.are.equal(0, maxdiff(d(x), x))
    assert.are.equal("Dropout2d(p=0.5)", tostring(d))
  end)
end)

describe("printing as PyTorch", function()
  local cases = {
    {nn.BatchNorm2d(16), "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"},
    {nn.BatchNorm1d(4, {momentum = false, affine = false, track_running_stats = false}),
     "BatchNorm1d(4, eps=1e-05, momentum=None, affine=False, track_running_stats=False)"},
    {nn.BatchNorm1d(4, {eps = 1e-3, momentum = 0.01}),
     "BatchNorm1d(4, eps=0.001, momentum=0.01, affine=True, track_running_stats=True)"},
    {nn.LayerNorm(10), "LayerNorm((10,), eps=1e-05, elementwise_affine=True)"},
    {nn.LayerNorm({3, 4}, {eps = 1e-6, elementwise_affine = false}),
     "LayerNorm((3, 4), eps=1e-06, elementwise_affine=False)"},
    {nn.GroupNorm(2, 4), "GroupNorm(2, 4, eps=1e-05, affine=True)"},
    {nn.AvgPool1d(3), "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"},
    {nn.AvgPool2d(2), "AvgPool2d(kernel_size=2, stride=2, padding=0)"},
    {nn.AvgPool2d({2, 3}, {stride = 1, padding = 1}), "AvgPool2d(kernel_size=(2, 3), stride=1, padding=1)"},
    {nn.AdaptiveAvgPool2d({3, 4}), "AdaptiveAvgPool2d(output_size=(3, 4))"},
    {nn.AdaptiveMaxPool2d(2), "AdaptiveMaxPool2d(output_size=2)"},
    {nn.Upsample({scale_factor = 2}), "Upsample(scale_factor=2.0, mode=nearest)"},
    {nn.Upsample({size = {4, 5}, mode = "bilinear", align_corners = true}), "Upsample(size=(4, 5), mode=bilinear)"},
    {nn.Upsample({scale_factor = {2, 1.5}, mode = "bilinear"}), "Upsample(scale_factor=(2.0, 1.5), mode=bilinear)"},
  }
  for _, c in ipairs(cases) do
    it(c[2], function() assert.are.equal(c[2], tostring(c[1])) end)
  end

  it("nn.functional has the functional forms", function()
    local F = nn.functional
    for _, name in ipairs{"batch_norm", "layer_norm", "group_norm", "dropout2d", "avg_pool1d",
                          "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "interpolate"} do
      assert.are.equal(lunet[name], F[name], name)
    end
  end)
end)

describe("normalization and pooling layers: bad input", function()
  local cases = {
    {"BatchNorm2d of a 3-D input", function() nn.BatchNorm2d(3)(lunet.randn(3, 4, 4)) end,
     "BatchNorm2d: expected a 4-D input [N, C, H, W], got [3, 4, 4]"},
    {"BatchNorm1d of a 4-D input", function() nn.BatchNorm1d(3)(lunet.randn(2, 3, 4, 4)) end,
     "BatchNorm1d: expected a 2-D or 3-D input ([N, C] or [N, C, L]), got [2, 3, 4, 4]"},
    {"BatchNorm2d with the wrong channel count", function() nn.BatchNorm2d(3)(lunet.randn(2, 4, 5, 5)) end,
     "BatchNorm2d: expected 3 channels (dim 2), got input [2, 4, 5, 5]"},
    {"BatchNorm1d training on one value per channel", function() nn.BatchNorm1d(3)(lunet.randn(1, 3)) end,
     "batch_norm: expected more than 1 value per channel when training, got input shape [1, 3]"},
    {"BatchNorm2d of a float64 input with float32 statistics",
     function() nn.BatchNorm2d(2)(lunet.randn(2, 2, 3, 3):to("float64")) end,
     "batch_norm: running_mean is float32 but the input is float64"},
    {"BatchNorm2d momentum out of range", function() nn.BatchNorm2d(3, {momentum = 2}) end,
     "BatchNorm2d: momentum must be a number between 0 and 1 or false (a cumulative average), got 2"},
    {"BatchNorm2d unknown option", function() nn.BatchNorm2d(3, {momentun = 0.2}) end,
     "BatchNorm2d: unknown option 'momentun'"},
    {"BatchNorm1d zero features", function() nn.BatchNorm1d(0) end,
     "BatchNorm1d: num_features must be a positive integer, got 0"},
    {"LayerNorm shape not matching the input", function() nn.LayerNorm({3, 4})(lunet.randn(2, 4, 3)) end,
     "layer_norm: normalized_shape [3, 4] does not match the last dims of input shape [2, 4, 3]"},
    {"LayerNorm of an empty shape", function() nn.LayerNorm({}) end,
     "LayerNorm: normalized_shape must be an integer or a table of integers, got an empty table"},
    {"LayerNorm negative eps", function() nn.LayerNorm(3, {eps = -1}) end,
     "LayerNorm: eps must be a positive number, got -1"},
    {"GroupNorm channels not divisible", function() nn.GroupNorm(4, 6) end,
     "GroupNorm: num_channels (6) must be divisible by num_groups (4)"},
    {"GroupNorm with the wrong channel count", function() nn.GroupNorm(2, 4)(lunet.randn(2, 6, 3)) end,
     "GroupNorm: expected 4 channels (dim 2), got input [2, 6, 3]"},
    {"Dropout2d p out of range", function() nn.Dropout2d(1.5) end,
     "Dropout2d: dropout probability has to be between 0 and 1, got 1.5"},
    {"Dropout2d of a 1-D input", function() nn.Dropout2d(0.5)(lunet.randn(4)) end,
     "dropout2d: input must be [N, C, ...], got [4]"},
    {"AvgPool2d padding over half the kernel", function() nn.AvgPool2d(2, {padding = 2}) end,
     "AvgPool2d: padding should be at most half of the kernel size, got padding 2 and kernel 2"},
    {"AvgPool2d of a 2-D input", function() nn.AvgPool2d(2)(lunet.randn(5, 5)) end,
     "avg_pool2d: input must have 4 or one fewer dims (N, C, H, W), got shape [5, 5]"},
    {"AvgPool1d kernel bigger than the input", function() nn.AvgPool1d(5)(lunet.randn(1, 2, 3)) end,
     "avg_pool1d: kernel size 5 with padding 0 is larger than the input size 3"},
    {"AvgPool1d with a kernel of two sizes", function() nn.AvgPool1d({2, 2}) end,
     "AvgPool1d: kernel_size must be an integer or a table of 1 integers, got a table of 2"},
    {"AdaptiveAvgPool2d zero size", function() nn.AdaptiveAvgPool2d(0) end,
     "AdaptiveAvgPool2d: output_size must be >= 1, got 0"},
    {"AdaptiveAvgPool2d of a 2-D input", function() nn.AdaptiveAvgPool2d(2)(lunet.randn(4, 4)) end,
     "adaptive_avg_pool2d: input must have 4 or one fewer dims (N, C, H, W), got shape [4, 4]"},
    {"AdaptiveMaxPool2d of a 5-D input", function() nn.AdaptiveMaxPool2d(2)(lunet.randn(1, 1, 2, 4, 4)) end,
     "adaptive_max_pool2d: input must have 4 or one fewer dims (N, C, H, W), got shape [1, 1, 2, 4, 4]"},
    {"Upsample with both size and scale_factor", function() nn.Upsample({size = 4, scale_factor = 2}) end,
     "Upsample: give either size or scale_factor, not both"},
    {"Upsample with neither", function() nn.Upsample({mode = "bilinear"}) end,
     "Upsample: give either size or scale_factor"},
    {"Upsample unknown mode", function() nn.Upsample({scale_factor = 2, mode = "bicubic"}) end,
     "Upsample: mode must be \"nearest\", \"linear\" or \"bilinear\", got \"bicubic\""},
    {"Upsample align_corners with nearest", function() nn.Upsample({scale_factor = 2, align_corners = true}) end,
     "Upsample: align_corners can only be set with the linear modes (linear, bilinear)"},
    {"Upsample bilinear of a 3-D input", function() nn.Upsample({scale_factor = 2, mode = "bilinear"})(lunet.randn(1, 2, 3)) end,
     "Upsample: mode bilinear with scale_factor 2.0 needs a 4-D input [N, C, H, W], got [1, 2, 3]"},
    {"Upsample size of two for a 3-D input", function() nn.Upsample({size = {4, 5}})(lunet.randn(1, 2, 3)) end,
     "Upsample: mode nearest with size (4, 5) needs a 4-D input [N, C, H, W], got [1, 2, 3]"},
    {"a layer called on a number", function() nn.LayerNorm(3)(5) end, "LayerNorm: expected a tensor, got number"},
  }
  for _, c in ipairs(cases) do
    it(c[1], function() h.raises_holding(c[2], c[3]) end)
  end

  it("errors point at the caller's line", function()
    local bn, ln = nn.BatchNorm2d(3), nn.LayerNorm(4)
    for _, f in ipairs{function() bn(lunet.randn(3, 4, 4)) end,          -- raised in nn_norm.lua
                       function() ln(lunet.randn(2, 5)) end,             -- raised by the C op
                       function() nn.GroupNorm(4, 6) end,
                       function() nn.Upsample({scale_factor = 2, mode = "bilinear"})(lunet.randn(1, 2, 3)) end} do
      local ok, e = pcall(f)
      assert.is_false(ok)
      assert.is_truthy(tostring(e):find("norm_spec.lua:%d+:"), tostring(e))
    end
  end)
end)
