-- rnn_spec.lua: Embedding, RNN/LSTM/GRU and their cells against PyTorch's outputs and gradients
-- (tests/fixtures/rnn.lua, from scripts/make_rnn_fixtures.py), gradient checks through the
-- layers, nn.utils' clipping, and bad input.
local lunet = require "lunet"
local nn = require "lunet.nn"
local testing = require "lunet.testing"

local fx = dofile((os.getenv("LUNET_SOURCE_DIR") or ".") .. "/tests/fixtures/rnn.lua")

local function T(f, dtype)
  return lunet.tensor(f.data, {dtype = dtype or "float64"}):view(table.unpack(f.shape))
end
local function maxdiff(a, b) return (a:double() - b:double()):abs():max():item() end

-- f() raises an error containing pat, raised at a line of this file; returns the message
local function raises(pat, f)
  local ok, e = pcall(f)
  assert.is_false(ok)
  assert.is_truthy(e:find(pat, 1, true), e)
  assert.is_truthy(e:find("rnn_spec.lua:", 1, true), e)
  return e
end

-- builds the case's module with PyTorch's weights, runs it and backward through the weighted sum
local function run_case(c, dtype)
  local opts = {dtype = dtype}
  for k, v in pairs(c.opts) do opts[k] = v end
  local m = nn[c.kind](c.input_size, c.hidden, opts)
  local sd = {}
  for k, v in pairs(c.params) do sd[k] = T(v, dtype) end
  m:load_state_dict(sd)
  local x = T(c.x, dtype):requires_grad_(true)
  local h0 = c.h0 and T(c.h0, dtype):requires_grad_(true)
  local c0 = c.c0 and T(c.c0, dtype):requires_grad_(true)
  local r = {m = m, x = x, h0 = h0, c0 = c0}
  if c.kind == "LSTMCell" then r.h, r.c = m(x, h0, c0)
  elseif c.kind:find("Cell") then r.h = m(x, h0)
  elseif c.kind == "LSTM" then r.y, r.h, r.c = m(x, h0, c0)
  else r.y, r.h = m(x, h0) end
  local loss = (r.h * T(c.wh, dtype)):sum()
  if r.y then loss = loss + (r.y * T(c.wy, dtype)):sum() end
  if r.c then loss = loss + (r.c * T(c.wc, dtype)):sum() end
  loss:backward()
  return r
end

local function check_case(name, dtype, tol)
  local c = fx[name]
  local r = run_case(c, dtype)
  assert.is_true(maxdiff(r.h, T(c.h)) < tol, name .. ": h")
  if c.y then assert.is_true(maxdiff(r.y, T(c.y)) < tol, name .. ": y") end
  if c.c then assert.is_true(maxdiff(r.c, T(c.c)) < tol, name .. ": c") end
  assert.is_true(maxdiff(r.x.grad, T(c.gx)) < tol, name .. ": dx")
  local params = r.m:named_parameters()
  for k, g in pairs(c.grads) do
    assert.is_true(maxdiff(params[k].grad, T(g)) < tol, name .. ": d" .. k)
  end
  if c.h0 then assert.is_true(maxdiff(r.h0.grad, T(c.gh0)) < tol, name .. ": dh0") end
  if c.c0 then assert.is_true(maxdiff(r.c0.grad, T(c.gc0)) < tol, name .. ": dc0") end
end

local LAYER_CASES = {"lstm", "lstm_h0", "lstm_bi2", "lstm_bf", "lstm_bi2_bf_h0", "lstm_unbatched",
                     "gru", "gru_bi2", "gru_bf_h0", "gru_unbatched", "rnn_relu", "rnn_nobias",
                     "rnn_tanh_bi2", "rnn_unbatched", "lstmcell", "lstmcell0", "lstmcell_unbatched",
                     "grucell", "grucell_unbatched", "rnncell", "rnncell0", "rnncell_tanh"}

describe("recurrent layers against PyTorch", function()
  for _, name in ipairs(LAYER_CASES) do
    it(name .. " (float64): outputs, final states and every gradient", function()
      check_case(name, "float64", 1e-12)
    end)
  end
  for _, name in ipairs{"lstm_bi2", "lstm_bi2_bf_h0", "gru_bi2", "gru_unbatched", "rnn_relu",
                        "rnn_tanh_bi2", "lstmcell", "grucell"} do
    it(name .. " (float32)", function() check_case(name, "float32", 2e-5) end)
  end

  it("has PyTorch's parameter names in PyTorch's order", function()
    local m = nn.LSTM(3, 4, {num_layers = 2, bidirectional = true})
    local _, names = m:named_parameters()
    local want = {}
    for l = 0, 1 do
      for _, sfx in ipairs{"", "_reverse"} do
        for _, p in ipairs{"weight_ih", "weight_hh", "bias_ih", "bias_hh"} do
          want[#want + 1] = p .. "_l" .. l .. sfx
        end
      end
    end
    assert.are.same(want, names)
    assert.are.same({16, 3}, m.weight_ih_l0:shape())
    assert.are.same({16, 8}, m.weight_ih_l1_reverse:shape())
    local _, cnames = nn.GRUCell(3, 5):named_parameters()
    assert.are.same({"weight_ih", "weight_hh", "bias_ih", "bias_hh"}, cnames)
    local _, nb = nn.RNN(2, 3, {bias = false}):named_parameters()
    assert.are.same({"weight_ih_l0", "weight_hh_l0"}, nb)
  end)

  it("loads a PyTorch state_dict by its names and gives the same state_dict back", function()
    local c = fx.lstm_bi2_bf_h0
    local m = nn.LSTM(c.input_size, c.hidden, {num_layers = 2, bidirectional = true,
                                               batch_first = true, dtype = "float64"})
    local sd = {}
    for k, v in pairs(c.params) do sd[k] = T(v) end
    local missing, unexpected = m:load_state_dict(sd)
    assert.are.same({}, missing)
    assert.are.same({}, unexpected)
    local back = m:state_dict()
    local n = 0
    for k, v in pairs(back) do
      n = n + 1
      assert.are.equal(0, maxdiff(v, sd[k]), k)
    end
    assert.are.equal(16, n)
    assert.is_truthy(back.bias_hh_l1_reverse)
    sd.bias_hh_l1_reverse = nil
    local ok, e = pcall(m.load_state_dict, m, sd)
    assert.is_false(ok)
    assert.is_truthy(e:find("bias_hh_l1_reverse", 1, true), e)
  end)

  it("initialises every parameter U(-1/sqrt(hidden), 1/sqrt(hidden))", function()
    local m = nn.GRU(10, 25, {num_layers = 2})
    for _, p in ipairs(m:parameters()) do
      assert.is_true(p:abs():max():item() <= 0.2)
      assert.is_true(p:abs():max():item() > 0.15)      -- spread over the range, not zeros
    end
  end)

  it("carries the state: two halves with h, c passed on equal the whole sequence", function()
    local m = nn.LSTM(3, 4, {num_layers = 2, dtype = "float64"})
    local x = lunet.randn(6, 2, 3, {dtype = "float64"})
    local y, h, c = m(x)
    local y1, h1, c1 = m(x:narrow(1, 1, 3))
    local y2, h2, c2 = m(x:narrow(1, 4, 3), h1, c1)
    assert.is_true(maxdiff(lunet.cat({y1, y2}, 1), y) < 1e-14)
    assert.is_true(maxdiff(h2, h) < 1e-14 and maxdiff(c2, c) < 1e-14)
  end)

  it("takes unbatched input [seq, input]", function()
    local m = nn.GRU(3, 4, {dtype = "float64", bidirectional = true})
    local x = lunet.randn(5, 3, {dtype = "float64"})
    local y, h = m(x)
    assert.are.same({5, 8}, y:shape())
    assert.are.same({2, 4}, h:shape())
    local yb = m(x:unsqueeze(2))
    assert.is_true(maxdiff(yb:squeeze(2), y) == 0)
  end)

  it("applies dropout between layers in training mode only", function()
    local m = nn.LSTM(3, 4, {num_layers = 2, dropout = 0.5, dtype = "float64"})
    local x = lunet.randn(4, 2, 3, {dtype = "float64"})
    m:eval()
    local a, b = m(x), m(x)
    assert.is_true(maxdiff(a, b) == 0)
    m:train()
    local differs = false
    for _ = 1, 5 do differs = differs or maxdiff(m(x), a) > 1e-9 end
    assert.is_true(differs)
    -- the eval output is that of the same weights with no dropout at all
    local plain = nn.LSTM(3, 4, {num_layers = 2, dtype = "float64"})
    plain:load_state_dict(m:state_dict())
    assert.are.equal(0, maxdiff(plain(x), a))
    -- one layer: nothing between layers, so nothing dropped even in training
    local one = nn.GRU(3, 4, {dropout = 0.5, dtype = "float64"})
    one:train()
    assert.are.equal(0, maxdiff(one(x), one(x)))
  end)

  it("passes gradcheck (float64) for the input, h0, c0 and the parameters", function()
    local function check(fn, inputs)
      local ok, err, msg = testing.gradcheck(fn, inputs)
      assert.is_true(ok, tostring(msg or err))
    end
    local f64 = {dtype = "float64", requires_grad = true}
    local gru = nn.GRU(2, 3, {bidirectional = true, num_layers = 2, dtype = "float64"})
    local x = lunet.randn(3, 2, 2, f64)
    local h0 = lunet.randn(4, 2, 3, f64)
    check(function(a, b) return gru(a, b) end, {x, h0})
    check(function() return gru(x, h0) end, {gru.weight_hh_l1_reverse})
    check(function() return gru(x, h0) end, {gru.bias_ih_l0})
    -- batch_first: x [batch 2, seq 3, 2], states [1, batch 2, 3]
    local lstm = nn.LSTM(2, 3, {batch_first = true, dtype = "float64"})
    local xb = lunet.randn(2, 3, 2, f64)
    local h1, c1 = lunet.randn(1, 2, 3, f64), lunet.randn(1, 2, 3, f64)
    check(function(a, b, c) return lstm(a, b, c) end, {xb, h1, c1})
    check(function() return lstm(xb) end, {lstm.weight_hh_l0})
    check(function() return lstm(xb, h1, c1) end, {lstm.weight_ih_l0})
    local rnn = nn.RNN(2, 3, {num_layers = 2, dtype = "float64"})
    check(function(a, b) return rnn(a, b) end, {x, lunet.randn(2, 2, 3, f64)})
    check(function() return rnn(x) end, {rnn.weight_hh_l1})
    local cell = nn.LSTMCell(2, 3, {dtype = "float64"})
    check(function(a, b, c) return cell(a, b, c) end,
          {lunet.randn(4, 2, f64), lunet.randn(4, 3, f64), lunet.randn(4, 3, f64)})
    local gcell = nn.GRUCell(2, 3, {dtype = "float64"})
    check(function(a, b) return gcell(a, b) end, {lunet.randn(2, f64), lunet.randn(3, f64)})
    check(function() return gcell(x:select(1, 1)) end, {gcell.weight_hh})
  end)

  it("rejects bad input with errors at the caller's line", function()
    local m = nn.LSTM(3, 4)
    local function err(f, pat) return raises(pat, f) end
    err(function() m(lunet.randn(5, 2, 7)) end, "LSTM: expected input with 3 features, got [5, 2, 7]")
    err(function() m(lunet.randn(5)) end, "LSTM: expected a 3-D input")
    err(function() m(lunet.randn(5, 2, 3), lunet.zeros(2, 2, 4)) end,
        "LSTM: h0 must have shape [1, 2, 4], got [2, 2, 4]")
    err(function() m(lunet.randn(5, 2, 3, {dtype = "float64"})) end, "dtype")
    err(function() m(lunet.randn(5, 2, 3), lunet.zeros(1, 2, 4), lunet.zeros(1, 3, 4)) end,
        "LSTM: c0 must have shape [1, 2, 4], got [1, 3, 4]")
    err(function() m("x") end, "LSTM: expected a tensor input, got string")
    err(function() nn.LSTM(3, 4, {batch_first = true})(lunet.randn(2, 5, 3), lunet.zeros(1, 5, 4)) end,
        "LSTM: h0 must have shape [1, 2, 4], got [1, 5, 4]")
    err(function() nn.GRU(3, 4, {bidirectional = true})(lunet.randn(5, 3), lunet.zeros(1, 4)) end,
        "GRU: h0 must have shape [2, 4], got [1, 4]")
    err(function() nn.GRU(3, 4)(lunet.randn(5, 2, 3), nil, lunet.zeros(1, 2, 4)) end,
        "GRU: only an LSTM takes c0")
    err(function() nn.RNN(3, 4, {nonlinearity = "sigmoid"}) end,
        "RNN: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'")
    err(function() nn.LSTM(3, 0) end, "LSTM: hidden_size must be a positive integer, got 0")
    err(function() nn.GRU(3, 4, {dropout = 2}) end, "GRU: dropout must be a number in [0, 1]")
    err(function() nn.LSTM(3, 4, {layers = 2}) end, "LSTM: unknown option 'layers'")
    err(function() nn.LSTMCell(3, 4)(lunet.randn(2, 5)) end, "LSTMCell: expected input [batch, 3]")
    err(function() nn.GRUCell(3, 4)(lunet.randn(2, 3), lunet.zeros(3, 4)) end,
        "GRUCell: h must have shape [2, 4], got [3, 4]")
    err(function() nn.RNNCell(3, 4)(lunet.randn(2, 2, 3)) end,
        "RNNCell: expected input [batch, 3] or [3], got [2, 2, 3]")
    err(function() nn.RNNCell(3, 4)(lunet.randn(2, 3), lunet.zeros(2, 4), lunet.zeros(2, 4)) end,
        "RNNCell: only an LSTMCell takes c")
    err(function() nn.LSTMCell(3, 4)(lunet.randn(2, 3), lunet.zeros(2, 4), lunet.zeros(2, 5)) end,
        "LSTMCell: c must have shape [2, 4], got [2, 5]")
  end)

  it("lunet.rnn_seq checks its operands", function()
    local gx, w = lunet.randn(3, 2, 16), lunet.randn(16, 4)
    local function err(pat, ...)
      local args = table.pack(...)
      return raises(pat, function() return lunet.rnn_seq(table.unpack(args, 1, args.n)) end)
    end
    err("invalid option 'lstm2'", "lstm2", gx, w)
    err("rnn_seq (gru): w_hh must be [3 * hidden, hidden], got [16, 4]", "gru", gx, w)
    err("rnn_seq (lstm): gx must be [steps >= 1, batch, 16], got [3, 2, 12]", "lstm",
        lunet.randn(3, 2, 12), w)
    err("rnn_seq (lstm): h0 must be [2, 4], got [3, 4]", "lstm", gx, w, nil, lunet.zeros(3, 4))
    err("rnn_seq (rnn_tanh): c0 is for an LSTM only", "rnn_tanh", lunet.randn(3, 2, 4),
        lunet.randn(4, 4), nil, nil, lunet.zeros(2, 4))
    err("rnn_seq (lstm): b_hh must be [16], got [4]", "lstm", gx, w, lunet.zeros(4))
    local out = lunet.rnn_seq("lstm", gx, w)
    assert.are.same({5, 2, 4}, out:shape())
    assert.are.same({4, 2, 4}, lunet.rnn_seq("gru", lunet.randn(3, 2, 12), lunet.randn(12, 4)):shape())
  end)
end)

describe("Embedding", function()
  local c = fx.embedding

  it("gives PyTorch's rows and gradient, none for the padding row", function()
    local m = nn.Embedding(c.num, c.dim, {padding_idx = c.padding_idx, dtype = "float64"})
    m:load_state_dict({weight = T(c.weight)})
    local ids = T(c.ids):long()
    local y = m(ids)
    assert.are.same({2, 4, 3}, y:shape())
    assert.is_true(maxdiff(y, T(c.y)) == 0)
    local loss = (y * T(c.wy)):sum()
    loss:backward()
    assert.is_true(maxdiff(m.weight.grad, T(c.gweight)) < 1e-15)
    assert.are.same({0, 0, 0}, m.weight.grad:select(1, c.padding_idx):totable())
  end)

  it("initialises N(0, 1) with the padding row at zero; functional form and 1-based ids", function()
    local m = nn.Embedding(200, 50, {padding_idx = -1})
    assert.are.equal(200, m.padding_idx)
    assert.are.same(lunet.zeros(50):totable(), m.weight:select(1, 200):totable())
    local w = m.weight:narrow(1, 1, 199)
    assert.is_true(math.abs(w:mean():item()) < 0.05)
    assert.is_true(math.abs(w:std():item() - 1) < 0.05)
    local weight = lunet.tensor({{1, 2}, {3, 4}, {5, 6}})
    assert.are.same({{5, 6}, {1, 2}}, lunet.embedding(lunet.tensor({3, 1}):long(), weight):totable())
    assert.are.same({{{3, 4}}}, nn.F.embedding(lunet.tensor({{2}}):long(), weight):totable())
  end)

  it("teaches that ids are 1-based", function()
    local m = nn.Embedding(5, 2)
    local err = raises
    local e = err("embedding: id 0 is out of range for 5 rows (ids are 1-based: 1..5; 0-based ids need + 1)",
                  function() m(lunet.tensor({1, 0}):long()) end)
    err("embedding: id 6 is out of range for 5 rows", function() m(lunet.tensor({6}):long()) end)
    err("embedding: ids must be int64 (1-based), got float32; convert with :long()",
        function() m(lunet.tensor({1})) end)
    err("Embedding: padding_idx must be an id in 1..5", function() nn.Embedding(5, 2, {padding_idx = 0}) end)
    err("embedding: padding_idx 9 is out of range for 5 rows",
        function() lunet.embedding(lunet.tensor({1}):long(), lunet.zeros(5, 2), 9) end)
    err("embedding: weight must be 2-D [num, dim], got [5, 2, 1]",
        function() lunet.embedding(lunet.tensor({1}):long(), lunet.zeros(5, 2, 1)) end)
    err("Embedding: embedding_dim must be a positive integer, got 0", function() nn.Embedding(5, 0) end)
  end)
end)

describe("nn.utils clipping", function()
  local function params_with(grads)
    local ps = {}
    for i, g in ipairs(grads) do
      ps[i] = lunet.zeros(#g, {dtype = "float64", requires_grad = true})
      ps[i].grad = lunet.tensor(g, {dtype = "float64"})
    end
    return ps
  end

  it("clip_grad_norm_ scales to max_norm and returns the norm before", function()
    local ps = params_with({{3, 0}, {4}})
    local n = nn.utils.clip_grad_norm_(ps, 1)
    assert.are.equal(5, n)
    local k = 1 / (5 + 1e-6)
    assert.is_true(math.abs(ps[1].grad:totable()[1] - 3 * k) < 1e-15)
    assert.is_true(math.abs(ps[2].grad:totable()[1] - 4 * k) < 1e-15)
    -- under the limit: unchanged
    ps = params_with({{3, 0}, {4}})
    assert.are.equal(5, nn.utils.clip_grad_norm_(ps, 10))
    assert.are.same({3, 0}, ps[1].grad:totable())
    -- inf norm and p = 1
    ps = params_with({{3, -7}, {4}})
    assert.are.equal(7, nn.utils.clip_grad_norm_(ps, 3.5, math.huge))
    assert.is_true(math.abs(ps[1].grad:totable()[2] + 7 * 3.5 / (7 + 1e-6)) < 1e-12)
    ps = params_with({{3, -7}, {4}})
    assert.is_true(math.abs(nn.utils.clip_grad_norm_(ps, 100, 1) - 14) < 1e-12)
  end)

  it("clip_grad_value_ clamps every element; a module's parameters are accepted", function()
    local ps = params_with({{3, -7, 0.5}})
    nn.utils.clip_grad_value_(ps, 1)
    assert.are.same({1, -1, 0.5}, ps[1].grad:totable())
    local m = nn.LSTM(2, 3)
    local y = m(lunet.randn(4, 1, 2))
    local loss = (y * 1000):sum()
    loss:backward()
    nn.utils.clip_grad_value_(m, 0.25)
    for _, p in ipairs(m:parameters()) do assert.is_true(p.grad:abs():max():item() <= 0.25) end
    assert.is_true(nn.utils.clip_grad_norm_(m, 1e9) > 0)
  end)

  it("rejects bad arguments", function()
    local err = raises
    err("clip_grad_norm_: max_norm must be a number >= 0, got nil",
        function() nn.utils.clip_grad_norm_({}, nil) end)
    err("clip_grad_norm_: norm_type must be a positive number",
        function() nn.utils.clip_grad_norm_({}, 1, -2) end)
    err("clip_grad_value_: element 1 is a number, not a tensor",
        function() nn.utils.clip_grad_value_({1}, 1) end)
    err("clip_grad_value_: clip_value must be a number >= 0, got -1",
        function() nn.utils.clip_grad_value_({}, -1) end)
  end)
end)

describe("help", function()
  it("has a docs/API.md entry for every public name of the section", function()
    local help = require "lunet.help"
    local want = {
      [nn.Embedding] = "Embedding(num, dim [, {padding_idx}])",
      [nn.RNN] = "RNN(input, hidden [, {num_layers = 1,", [nn.LSTM] = "LSTM(input, hidden [, opts])",
      [nn.GRU] = "GRU(input, hidden [, opts])", [nn.RNNCell] = "RNNCell(input, hidden",
      [nn.LSTMCell] = "LSTMCell(input, hidden", [nn.GRUCell] = "GRUCell(input, hidden",
      [nn.utils.clip_grad_norm_] = "nn.utils.clip_grad_norm_(params, max_norm",
      [nn.utils.clip_grad_value_] = "nn.utils.clip_grad_value_(params, v)",
      [lunet.embedding] = "lunet.embedding(ids, weight", [nn.F.embedding] = "lunet.embedding(ids, weight",
      [lunet.rnn_seq] = "lunet.rnn_seq(mode, gx, w_hh",
    }
    for v, sig in pairs(want) do
      local got = help.doc(v)
      assert.is_truthy(got, sig)
      assert.are.equal(sig, got:sub(1, #sig))
    end
  end)
end)
