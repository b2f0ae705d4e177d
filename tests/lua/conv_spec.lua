-- conv_spec.lua: convolution and max pooling (lunet.conv1d/conv2d/conv_transpose2d,
-- lunet.max_pool1d/2d, nn.Conv1d/Conv2d/ConvTranspose2d/MaxPool1d/MaxPool2d) against PyTorch's
-- numbers in tests/fixtures/conv.lua (scripts/make_conv_fixtures.py), their layers, and bad input.
local lunet = require "lunet"
local nn = lunet.nn
local h = dofile("tests/lua/helpers.lua")
local fixtures = dofile("tests/fixtures/conv.lua")

local from = h.fixture
local maxdiff = h.maxdiff

-- runs fixture case c in dtype: the output (and indices) and, in float64, every gradient
local function run(c)
  local x = from(c.x, true)
  local y, idx
  if c.fn:match("^max_pool") then
    local opts = {return_indices = true}
    for k, v in pairs(c.opts) do opts[k] = v end
    y, idx = lunet[c.fn](x, c.k, opts)
    return x, y, idx
  end
  local w, b = from(c.w, true), c.b and from(c.b, true)
  y = lunet[c.fn](x, w, b, c.opts)
  return x, y, nil, w, b
end

describe("convolution and max pooling against PyTorch", function()
  for _, c in ipairs(fixtures) do
    it(c.label, function()
      local x, y, idx, w, b = run(c)
      assert.is_true(maxdiff(y, from(c.y)) < 1e-12, c.label .. ": output differs")
      if c.indices then
        assert.are.equal("int64", idx:dtype())
        assert.are.same(from(c.indices):to("int64"):totable(), idx:totable())
      end
      ;(y * from(c.wy)):sum():backward()
      assert.is_true(maxdiff(x.grad, from(c.dx)) < 1e-12, c.label .. ": input gradient differs")
      if w then assert.is_true(maxdiff(w.grad, from(c.dw)) < 1e-12, c.label .. ": weight gradient differs") end
      if b then assert.is_true(maxdiff(b.grad, from(c.db)) < 1e-12, c.label .. ": bias gradient differs") end
    end)
  end

  it("float32 gives PyTorch's float64 numbers to float precision", function()
    for _, c in ipairs(fixtures) do
      local x = from(c.x):to("float32")
      local y
      if c.w then
        y = lunet[c.fn](x, from(c.w):to("float32"), c.b and from(c.b):to("float32"), c.opts)
      else
        y = lunet[c.fn](x, c.k, c.opts)
      end
      assert.are.equal("float32", y:dtype())
      assert.is_true(maxdiff(y, from(c.y)) < 1e-4, c.label)
    end
  end)
end)

describe("convolution in lanes", function()
  it("gives the same numbers on 1 and 2 threads, and the same bits twice on each", function()
    local before = lunet.get_num_threads()
    lunet.manual_seed(3)
    local x = lunet.randn(16, 3, 12, 12, {dtype = "float64"})
    local w = lunet.randn(8, 3, 3, 3, {dtype = "float64"})
    local b = lunet.randn(8, {dtype = "float64"})
    local function grads(threads)
      lunet.set_num_threads(threads)
      local xs, ws, bs = x:clone(), w:clone(), b:clone()
      for _, t in ipairs{xs, ws, bs} do t:set_requires_grad(true) end
      local y = lunet.conv2d(xs, ws, bs, {padding = 1, stride = 2});
      (y * y):sum():backward()
      return {y:detach(), xs.grad, ws.grad, bs.grad}
    end
    local one, two, two_again = grads(1), grads(2), grads(2)
    lunet.set_num_threads(before)
    for i = 1, 4 do
      assert.is_true(maxdiff(one[i], two[i]) < 1e-9)
      assert.are.equal(0, maxdiff(two[i], two_again[i]))
    end
  end)

  it("accumulates into an existing gradient", function()
    local x = lunet.randn(4, 2, 5, 5, {dtype = "float64"}):set_requires_grad(true)
    local w = lunet.randn(3, 2, 3, 3, {dtype = "float64"}):set_requires_grad(true)
    lunet.conv2d(x, w):sum():backward()
    local gx, gw = x.grad:clone(), w.grad:clone()
    lunet.conv2d(x, w):sum():backward()
    assert.is_true(maxdiff(x.grad, gx * 2) < 1e-12)
    assert.is_true(maxdiff(w.grad, gw * 2) < 1e-12)
  end)
end)

describe("convolution layers", function()
  it("Conv2d: PyTorch's parameter names, layout and initialization bounds", function()
    lunet.manual_seed(0)
    local c = nn.Conv2d(4, 6, 3, {groups = 2, padding = 1})
    assert.are.same({6, 2, 3, 3}, c.weight:shape())
    assert.are.same({6}, c.bias:shape())
    local sd = c:state_dict()
    assert.is_not_nil(sd.weight)
    assert.is_not_nil(sd.bias)
    local bound = 1 / math.sqrt(2 * 3 * 3)     -- kaiming_uniform(a = √5): 1/√fan_in, as the bias
    assert.is_true(c.weight:abs():max():item() <= bound)
    assert.is_true(c.weight:abs():max():item() > bound * 0.8)
    assert.is_true(c.bias:abs():max():item() <= bound)
    assert.are.same({2, 6, 5, 7}, c(lunet.randn(2, 4, 5, 7)):shape())
    assert.are.equal("Conv2d(4, 6, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=2)",
                     tostring(c))
  end)

  it("Conv2d loads a PyTorch state and computes conv2d", function()
    local c = fixtures[2]
    local conv = nn.Conv2d(3, 4, {3, 2}, {stride = {2, 1}, padding = {1, 2}, dilation = {1, 2},
                                         dtype = "float64"})
    conv:load_state_dict({weight = from(c.w), bias = from(c.b)})
    assert.is_true(maxdiff(conv(from(c.x)), from(c.y)) < 1e-12)
  end)

  it("Conv1d, ConvTranspose2d and padding 'same' have PyTorch's shapes", function()
    local c1 = nn.Conv1d(3, 4, 5, {padding = "same", bias = false})
    assert.is_nil(c1.bias)
    assert.are.same({4, 3, 5}, c1.weight:shape())
    assert.are.same({2, 4, 11}, c1(lunet.randn(2, 3, 11)):shape())
    local t = nn.ConvTranspose2d(4, 6, 3, {stride = 2, padding = 1, output_padding = 1, groups = 2})
    assert.are.same({4, 3, 3, 3}, t.weight:shape())
    assert.are.same({1, 6, 10, 12}, t(lunet.randn(1, 4, 5, 6)):shape())
  end)

  it("MaxPool2d/MaxPool1d: stride defaults to the kernel, return_indices gives 1-based indices", function()
    local x = lunet.arange(1, 17):to("float32"):view(1, 1, 4, 4)
    local y, i = nn.MaxPool2d(2, {return_indices = true})(x)
    assert.are.same({{{{6, 8}, {14, 16}}}}, y:totable())
    assert.are.same({{{{6, 8}, {14, 16}}}}, i:totable())
    assert.are.same({{{3, 5}}}, nn.MaxPool1d(2)(lunet.tensor({{{1, 3, 2, 5, 4}}})):totable())
    assert.are.same({{{3, 5, 4}}}, nn.MaxPool1d(2, {ceil_mode = true})(lunet.tensor({{{1, 3, 2, 5, 4}}})):totable())
    assert.are.equal("MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=False)",
                     tostring(nn.MaxPool2d(2)))
  end)

  it("a NaN in a window is its max, as in PyTorch", function()
    local y = lunet.max_pool1d(lunet.tensor({{{1, 0 / 0, 3, 4}}}), 2)
    assert.is_true(y:totable()[1][1][1] ~= y:totable()[1][1][1])
    assert.are.equal(4, y:totable()[1][1][2])
  end)

  it("stride-1 convolutions that keep the width (copied as whole stretches) against naive loops", function()
    lunet.manual_seed(5)
    -- {H, W, k, padding, dilation}: same-size outputs, taps wholly in the padding, taller than wide
    for _, c in ipairs{{5, 4, 3, 1, 1}, {2, 2, 5, 2, 1}, {3, 6, 3, 2, 2}, {7, 3, 1, 0, 1}, {4, 5, 3, {0, 1}, 1}} do
      local H, W, k, pad, d = table.unpack(c)
      local ph, pw = type(pad) == "table" and pad[1] or pad, type(pad) == "table" and pad[2] or pad
      local x = lunet.randn(2, 3, H, W, {dtype = "float64"}):set_requires_grad(true)
      local w = lunet.randn(4, 3, k, k, {dtype = "float64"}):set_requires_grad(true)
      local y = lunet.conv2d(x, w, nil, {padding = pad, dilation = d})
      local OH, OW = H + 2 * ph - d * (k - 1), W + 2 * pw - d * (k - 1)
      assert.are.same({2, 4, OH, OW}, y:shape())
      local gy = lunet.randn(2, 4, OH, OW, {dtype = "float64"})
      y:backward(gy)
      local xt, wt, yt, gt = x:totable(), w:totable(), y:totable(), gy:totable()
      local dxt, dwt = x.grad:totable(), w.grad:totable()
      local want_dx, want_dw = {}, {}
      for n = 1, 2 do for ci = 1, 3 do for i = 1, H do for j = 1, W do
        want_dx[((n * 4 + ci) * 10 + i) * 10 + j] = 0 end end end end
      for o = 1, 4 do for ci = 1, 3 do for a = 1, k do for b = 1, k do
        want_dw[((o * 4 + ci) * 10 + a) * 10 + b] = 0 end end end end
      for n = 1, 2 do for o = 1, 4 do for oh = 1, OH do for ow = 1, OW do
        local sum = 0
        for ci = 1, 3 do for a = 1, k do for b = 1, k do
          local ih, iw = oh - ph + (a - 1) * d, ow - pw + (b - 1) * d
          if ih >= 1 and ih <= H and iw >= 1 and iw <= W then
            sum = sum + xt[n][ci][ih][iw] * wt[o][ci][a][b]
            local kx = ((n * 4 + ci) * 10 + ih) * 10 + iw
            want_dx[kx] = want_dx[kx] + gt[n][o][oh][ow] * wt[o][ci][a][b]
            local kw = ((o * 4 + ci) * 10 + a) * 10 + b
            want_dw[kw] = want_dw[kw] + gt[n][o][oh][ow] * xt[n][ci][ih][iw]
          end
        end end end
        assert.is_true(math.abs(yt[n][o][oh][ow] - sum) < 1e-12, "output")
      end end end end
      for n = 1, 2 do for ci = 1, 3 do for i = 1, H do for j = 1, W do
        assert.is_true(math.abs(dxt[n][ci][i][j] - want_dx[((n * 4 + ci) * 10 + i) * 10 + j]) < 1e-12, "dx")
      end end end end
      for o = 1, 4 do for ci = 1, 3 do for a = 1, k do for b = 1, k do
        assert.is_true(math.abs(dwt[o][ci][a][b] - want_dw[((o * 4 + ci) * 10 + a) * 10 + b]) < 1e-12, "dw")
      end end end end
    end
  end)

  it("2×2 pooling at stride 2 (its own loop) against a naive one: ties, NaNs, odd sizes", function()
    lunet.manual_seed(3)
    for _, dt in ipairs{"float32", "float64"} do
      for _, hw in ipairs{{6, 8}, {7, 5}} do
        local x = lunet.randint(0, 3, {2, 3, hw[1], hw[2]}):to(dt)   -- many ties
        x[{1, 2, 3, 4}] = 0 / 0
        x[{2, 1, 1, 1}] = 0 / 0
        x[{2, 1, 2, 2}] = 0 / 0
        x[{1, 3, 1, 2}], x[{1, 3, 2, 1}] = math.huge, -math.huge      -- a window summing to NaN
        x:set_requires_grad(true)
        local y, idx = lunet.max_pool2d(x, 2, {return_indices = true})
        local gy = lunet.randn(y:shape()):to(dt)
        y:backward(gy)
        local xt, yt, it, gt, dxt = x:totable(), y:totable(), idx:totable(), gy:totable(), x.grad:totable()
        for n = 1, 2 do                    -- dy at each window's argmax, zeros elsewhere
          for c = 1, 3 do
            local want = {}
            for oh = 1, hw[1] // 2 do
              for ow = 1, hw[2] // 2 do want[it[n][c][oh][ow]] = gt[n][c][oh][ow] end
            end
            for r = 1, hw[1] do
              for q = 1, hw[2] do
                assert.are.equal(want[(r - 1) * hw[2] + q] or 0, dxt[n][c][r][q], dt .. ": gradient")
              end
            end
          end
        end
        for n = 1, 2 do
          for c = 1, 3 do
            for oh = 1, hw[1] // 2 do
              for ow = 1, hw[2] // 2 do
                local m, at
                for ki = 0, 1 do
                  for kj = 0, 1 do
                    local r, q = 2 * oh - 1 + ki, 2 * ow - 1 + kj
                    local v = xt[n][c][r][q]
                    if not at or (m == m and (v > m or v ~= v)) then
                      m, at = v, (r - 1) * hw[2] + q
                    end
                  end
                end
                local got = yt[n][c][oh][ow]
                assert.is_true(got == m or (got ~= got and m ~= m), dt .. ": value")
                assert.are.equal(at, it[n][c][oh][ow], dt .. ": index")
              end
            end
          end
        end
      end
    end
  end)

  it("a small CNN learns: the loss falls in a few Adam steps", function()
    lunet.manual_seed(1)
    local model = nn.Sequential(nn.Conv2d(1, 4, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
                                nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    local x, y = lunet.randn(12, 1, 8, 8), lunet.randint(1, 4, {12})
    local first, last = h.train_losses(model, x, y, 30)
    assert.is_true(last < first * 0.5, ("loss %g -> %g"):format(first, last))
  end)
end)

describe("convolution and pooling: bad input", function()
  local x, w = lunet.randn(2, 3, 5, 5), lunet.randn(4, 3, 3, 3)
  local cases = {
    {"channels mismatch names both shapes",
     function() lunet.conv2d(lunet.randn(2, 2, 5, 5), w) end,
     "conv2d: input has 2 channels but the weight expects 3 (groups 1; input [2, 2, 5, 5], weight [4, 3, 3, 3])"},
    {"kernel bigger than the padded input",
     function() lunet.conv2d(lunet.randn(1, 3, 2, 2), w) end,
     "conv2d: kernel height 3 (dilated 3) is bigger than the padded input height 2"},
    {"groups not dividing the channels",
     function() lunet.conv2d(x, lunet.randn(4, 1, 3, 3), nil, {groups = 2}) end,
     "conv2d: groups 2 must divide the input channels (3) and the output channels (4)"},
    {"a 3-D input to conv2d",
     function() lunet.conv2d(lunet.randn(3, 5, 5), w) end,
     "conv2d: expected a 4-D input [N, C, H, W] and a 4-D weight, got input [3, 5, 5] and weight [4, 3, 3, 3]"},
    {"a bias of the wrong size",
     function() lunet.conv2d(x, w, lunet.randn(3)) end, "conv2d: bias must be [4], got [3]"},
    {"int64 input", function() lunet.conv2d(x:to("int64"), w) end, "conv2d"},
    {"mixed dtypes", function() lunet.conv2d(x:to("float64"), w) end,
     "conv2d: input, weight and bias must have one dtype (float64, float32)"},
    {"padding 'same' with a stride",
     function() lunet.conv2d(x, w, nil, {padding = "same", stride = 2}) end,
     "conv2d: padding \"same\" needs stride 1, got 2"},
    {"an unknown padding string",
     function() lunet.conv2d(x, w, nil, {padding = "full"}) end,
     "conv2d: padding must be a number, a table of 2 numbers, \"same\" or \"valid\", got \"full\""},
    {"a zero stride", function() lunet.conv2d(x, w, nil, {stride = 0}) end,
     "conv2d: stride must be >= 1, got 0"},
    {"conv1d channels mismatch",
     function() lunet.conv1d(lunet.randn(2, 3, 8), lunet.randn(4, 2, 3)) end,
     "conv1d: input has 3 channels but the weight expects 2 (groups 1; input [2, 3, 1, 8], weight [4, 2, 1, 3])"},
    {"output_padding not smaller than stride or dilation",
     function() lunet.conv_transpose2d(x, lunet.randn(3, 2, 3, 3), nil, {output_padding = 1}) end,
     "conv_transpose2d: output_padding 1 must be smaller than the stride (1) or the dilation (1)"},
    {"max pooling padding over half the kernel",
     function() lunet.max_pool2d(x, 2, {padding = 2}) end,
     "max_pool2d: padding should be at most half of the kernel size, got padding 2 and kernel 2"},
    {"max pooling kernel bigger than the input",
     function() lunet.max_pool2d(x, 7) end,
     "max_pool2d: kernel 7 (dilated 7) is bigger than the padded input 5"},
    {"max pooling of a 2-D tensor",
     function() lunet.max_pool2d(lunet.randn(5, 5), 2) end,
     "max_pool2d: expected a 3-D or 4-D input, got [5, 5]"},
    {"max pooling without a kernel", function() lunet.max_pool1d(lunet.randn(1, 2, 5)) end,
     "max_pool1d: kernel size expected"},
    {"Conv2d with groups not dividing", function() nn.Conv2d(3, 4, 3, {groups = 2}) end,
     "Conv2d: groups (2) must divide in_channels (3) and out_channels (4)"},
    {"Conv2d with an unknown option", function() nn.Conv2d(3, 4, 3, {strides = 2}) end,
     "Conv2d: unknown option 'strides'"},
    {"Conv2d kernel of three sizes", function() nn.Conv2d(3, 4, {3, 3, 3}) end,
     "Conv2d: kernel_size must be an integer or a table of 2 integers, got a table of 3"},
    {"MaxPool2d with too much padding", function() nn.MaxPool2d(3, {padding = 2}) end,
     "MaxPool2d: padding should be at most half of the kernel size, got padding 2 and kernel 3"},
  }
  for _, c in ipairs(cases) do
    it(c[1], function() h.raises_holding(c[2], c[3]) end)
  end

  it("errors point at the caller's line", function()
    local ok, e = pcall(function() nn.Conv2d(3, 4, 3, {groups = 2}) end)
    assert.is_false(ok)
    assert.is_truthy(tostring(e):find("conv_spec.lua:%d+:"))
    ok, e = pcall(function() lunet.conv2d(x, lunet.randn(4, 2, 3, 3)) end)
    assert.is_false(ok)
    assert.is_truthy(tostring(e):find("conv_spec.lua:%d+:"))
  end)
end)
