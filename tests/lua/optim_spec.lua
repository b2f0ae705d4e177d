-- optim_spec.lua: lunet.optim — hand-derived steps, schedulers against PyTorch's sequences,
-- state dicts, bad input.
local lunet = require "lunet"
local optim = require "lunet.optim"

local function near(a, b, tol)
  tol = tol or 1e-12
  assert(math.abs(a - b) <= tol * (1 + math.abs(b)),
    string.format("got %.17g, want %.17g", a, b))
end

local function errors(fn, msg)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error: " .. msg)
  err = tostring(err)
  assert(err:find(msg, 1, true), string.format("error\n  got  %q\n  want %q", err, msg))
end

local param = dofile("tests/lua/helpers.lua").leaf   -- a float64 leaf that requires grad

-- sets p.grad to g (a Lua array) through autograd: d/dp sum(p * g) = g
local function setgrad(p, g)
  if p.grad then p.grad:zero_() end
  local loss = (p * lunet.tensor(g, {dtype = "float64"})):sum()
  loss:backward()
end

describe("optimizer steps", function()
  it("SGD: p - lr g", function()
    local p = param{1, 2}
    local opt = optim.SGD({p}, {lr = 0.1})
    setgrad(p, {0.5, -1})
    opt:step()
    near(p[1], 0.95)
    near(p[2], 2.1)
  end)

  it("SGD with momentum: b = g, then b = 0.9 b + g", function()
    local p = param{1}
    local opt = optim.SGD({p}, {lr = 0.1, momentum = 0.9})
    setgrad(p, {1}); opt:step()
    near(p[1], 0.9)
    setgrad(p, {1}); opt:step()
    near(p[1], 0.71)   -- b = 1.9
    near(opt:state_dict().state[1].momentum_buffer[1], 1.9)
  end)

  it("SGD nesterov: p -= lr (g + mu b)", function()
    local p = param{1}
    local opt = optim.SGD({p}, {lr = 0.1, momentum = 0.9, nesterov = true})
    setgrad(p, {1}); opt:step()
    near(p[1], 0.81)
    setgrad(p, {1}); opt:step()
    near(p[1], 0.539)
  end)

  it("Adam: the first step moves lr g / (|g| + eps)", function()
    local p = param{1, -1}
    local opt = optim.Adam({p}, {lr = 0.1})
    setgrad(p, {0.5, -2})
    opt:step()
    near(p[1], 1 - 0.1 * 0.5 / (0.5 + 1e-8))
    near(p[2], -1 + 0.1 * 2 / (2 + 1e-8))
    local st = opt:state_dict().state[1]
    assert.equal(1, st.step)
    near(st.exp_avg[1], 0.05)
    near(st.exp_avg_sq[2], 0.001 * 4)
  end)

  it("Adam with sklearn's eps placement", function()
    local p = param{1}
    local opt = optim.Adam({p}, {lr = 0.1, eps_inside = true})
    setgrad(p, {0.5}); opt:step()
    local r = math.sqrt(0.001)
    near(p[1], 1 - 0.1 * r * 0.5 / (r * 0.5 + 1e-8))
    local q = param{1}
    local opt2 = optim.Adam({q}, {lr = 0.1, sklearn_eps = true})
    setgrad(q, {0.5}); opt2:step()
    near(q[1], p[1], 0)
  end)

  it("AdamW decays the weights apart from the gradient", function()
    local p = param{1}
    local opt = optim.AdamW({p}, {lr = 0.1, weight_decay = 0.1})
    setgrad(p, {0.5}); opt:step()
    near(p[1], 0.99 - 0.05 / (0.5 + 1e-8))
  end)

  it("RMSprop and Adagrad: first steps", function()
    local p = param{1}
    local opt = optim.RMSprop({p})
    setgrad(p, {1}); opt:step()
    near(p[1], 1 - 0.01 / (0.1 + 1e-8))
    local q = param{1}
    local opt2 = optim.Adagrad({q}, {lr = 0.1})
    setgrad(q, {2}); opt2:step()
    near(q[1], 1 - 0.2 / (2 + 1e-10))
  end)

  it("float32 parameters", function()
    local p = lunet.tensor({1}, {requires_grad = true})
    local opt = optim.Adam({p}, {lr = 0.1})
    local loss = (p * 0.5):sum()
    loss:backward()
    opt:step()
    near(p[1], 1 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-7)
  end)

  it("skips parameters without a gradient", function()
    local p, q = param{1}, param{2}
    local opt = optim.Adam({p, q}, {lr = 0.1})
    setgrad(p, {1})
    opt:step()
    assert.equal(2, q[1])
    assert.is_nil(opt:state_dict().state[2])
  end)

  it("zero_grad zeroes, zero_grad(true) drops", function()
    local p = param{1, 2}
    local opt = optim.SGD({p}, {lr = 0.1})
    setgrad(p, {3, 4})
    opt:zero_grad()
    assert.same({0, 0}, p.grad:totable())
    opt:zero_grad(true)
    assert.is_nil(p.grad)
  end)

  it("step(closure) returns the closure's loss", function()
    local p = param{1}
    local opt = optim.SGD({p}, {lr = 0.1})
    local loss = opt:step(function()
      opt:zero_grad()
      local l = (p * p):sum()
      l:backward()
      return l
    end)
    near(loss:item(), 1)
    near(p[1], 0.8)
  end)
end)

describe("with modules", function()
  it("trains a small network and keeps its parameters alive", function()
    local nn = lunet.nn
    lunet.manual_seed(0)
    local X = lunet.randn(64, 3)
    local y = lunet.matmul(X, lunet.tensor{{1}, {-2}, {0.5}})
    local m = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    local opt = optim.Adam(m:parameters(), {lr = 0.05})
    local first, last
    for _ = 1, 100 do
      opt:zero_grad()
      local loss = nn.mse_loss(m(X), y)
      loss:backward()
      opt:step()
      first = first or loss:item()
      last = loss:item()
    end
    assert.is_true(last < 0.05 * first)
    assert.equal(100, opt:state_dict().state[1].step)

    local lone = optim.SGD({param{3, 4}}, {lr = 0.1}) -- the only reference is the optimizer's
    collectgarbage("collect")
    assert.same({3, 4}, lone:param_groups()[1].params[1]:totable())
  end)
end)

describe("parameter groups", function()
  it("per-group options and learning rates", function()
    local a, b = param{1}, param{1}
    local opt = optim.SGD({{params = {a}, lr = 0.1}, {params = {b}}}, {lr = 0.01, momentum = 0.5})
    assert.equal(2, opt:num_groups())
    assert.equal(0.1, opt:get_lr())
    assert.equal(0.1, opt:get_lr(1))
    assert.equal(0.01, opt:get_lr(2))
    setgrad(a, {1}); setgrad(b, {1})
    opt:step()
    near(a[1], 0.9)
    near(b[1], 0.99)
    opt:set_lr(0.5, 2)
    assert.equal(0.5, opt:get_lr(2))
    assert.equal(0.1, opt:get_lr(1))
    opt:set_lr(0.25)
    assert.equal(0.25, opt:get_lr(1))
    assert.equal(0.25, opt:get_lr(2))
    local groups = opt:param_groups()
    assert.equal(2, #groups)
    assert.equal(0.5, groups[2].momentum)
    lunet.no_grad(function() groups[2].params[1]:fill_(7) end) -- the same tensor
    assert.equal(7, b[1])
    errors(function() opt:get_lr(3) end, "get_lr: group 3 out of range (the optimizer has 2 groups)")
    errors(function() opt:set_lr(-1) end, "set_lr: invalid learning rate: -1")
    errors(function() opt:set_lr("x") end, "set_lr: the learning rate must be a number, got string")
  end)

  it("prints like PyTorch", function()
    local opt = optim.Adam({param{1}}, {lr = 0.1})
    local s = tostring(opt)
    assert.truthy(s:find("^Adam %(\nParameter Group 1\n    amsgrad: false\n    betas: %(0.9, 0.999%)\n"))
    assert.truthy(s:find("    lr: 0.1\n", 1, true))
    assert.truthy(s:find("\n%)$"))
  end)
end)

describe("state_dict", function()
  it("round trips Adam's state and options", function()
    local g = {{0.5, -1}, {0.25, 2}, {-1, 1}}
    local p = param{1, 2}
    local opt = optim.Adam({p}, {lr = 0.1, amsgrad = true})
    for t = 1, 2 do setgrad(p, g[t]); opt:step() end
    local sd = opt:state_dict()
    assert.equal(2, sd.state[1].step)
    assert.same({1}, sd.param_groups[1].params)
    assert.equal(0.1, sd.param_groups[1].lr)
    assert.same({0.9, 0.999}, sd.param_groups[1].betas)
    assert.equal(true, sd.param_groups[1].amsgrad)
    assert.equal(2, sd.state[1].max_exp_avg_sq:numel())

    local q = param{p[1], p[2]}
    local opt2 = optim.Adam({q}, {lr = 0.5})
    opt2:load_state_dict(sd)
    assert.equal(0.1, opt2:get_lr())
    setgrad(p, g[3]); opt:step()
    setgrad(q, g[3]); opt2:step()
    assert.equal(p[1], q[1])
    assert.equal(p[2], q[2])
    assert.equal(3, opt2:state_dict().state[1].step)
  end)

  it("keeps PyTorch's per-kind state: SGD has no step, Adagrad starts with its sum", function()
    local p = param{1, 2}
    local sgd = optim.SGD({p}, {lr = 0.1, momentum = 0.9})
    assert.same({}, sgd:state_dict().state)
    setgrad(p, {1, 1}); sgd:step()
    local st = sgd:state_dict().state[1]
    assert.is_nil(st.step)
    assert.same({1, 1}, st.momentum_buffer:totable())
    local ada = optim.Adagrad({param{1, 2}}, {initial_accumulator_value = 0.5, lr_decay = 0.1})
    local s0 = ada:state_dict().state[1]
    assert.equal(0, s0.step)
    assert.same({0.5, 0.5}, s0.sum:totable())
    local rms = optim.RMSprop({param{1}}, {centered = true, momentum = 0.5, alpha = 0.9})
    local g = rms:state_dict().param_groups[1]
    assert.equal(true, g.centered)
    assert.equal(0.9, g.alpha)
  end)

  it("survives lunet.save and lunet.load in a checkpoint", function()
    local p = param{1, 2}
    local opt = optim.Adam({p}, {lr = 0.1, amsgrad = true})
    setgrad(p, {0.5, -1}); opt:step()
    local path = os.tmpname()
    lunet.save(path, {optim = opt:state_dict(), epoch = 3})
    local ck = lunet.load(path)
    os.remove(path)
    local q = param{p[1], p[2]}
    local opt2 = optim.Adam({q})
    opt2:load_state_dict(ck.optim)
    assert.equal(0.1, opt2:get_lr())
    setgrad(p, {1, 1}); opt:step()
    setgrad(q, {1, 1}); opt2:step()
    assert.same(p:totable(), q:totable())
  end)

  it("rejects mismatched state dicts, naming the key", function()
    local p = param{1, 2}
    local opt = optim.Adam({p})
    setgrad(p, {1, 1}); opt:step()
    local sd = opt:state_dict()
    local other = optim.Adam({param{1, 2, 3}})
    errors(function() other:load_state_dict(sd) end,
      "load_state_dict: state[1].exp_avg has shape [2], the parameter has shape [3]")
    local two = optim.Adam({{params = {param{1}}}, {params = {param{1}}}})
    errors(function() two:load_state_dict(sd) end,
      "load_state_dict: loaded state dict has 1 parameter groups, the optimizer has 2")
    local sgd = optim.SGD({param{1, 2}}, {momentum = 0.9})
    errors(function() sgd:load_state_dict(sd) end,
      "load_state_dict: state[1].exp_avg is not a state of SGD (valid: step, momentum_buffer)")
    sd.param_groups[1].lr = "fast"
    errors(function() opt:load_state_dict(sd) end,
      "load_state_dict: param_groups[1].lr must be a number, got string")
    sd.param_groups[1].lr = -1
    errors(function() opt:load_state_dict(sd) end, "Adam: invalid learning rate: -1")
    assert.equal(1e-3, opt:get_lr()) -- nothing applied
    errors(function() opt:load_state_dict(5) end, "table expected")
  end)
end)

describe("bad input", function()
  it("is an error naming the problem", function()
    local p = param{1}
    errors(function() optim.SGD({p}, {lr = -1}) end,
      "SGD: invalid learning rate: -1 (must be a finite number >= 0)")
    errors(function() optim.SGD({p}, {lr = "fast"}) end, "SGD: option 'lr' must be a number, got string")
    errors(function() optim.Adam({p}, {lr = 0 / 0}) end, "Adam: invalid learning rate: nan")
    errors(function() optim.SGD({}, {lr = 0.1}) end, "SGD: optimizer got an empty parameter list")
    errors(function() optim.SGD({p}, {lr = 0.1, betas = {0.9, 0.99}}) end,
      "SGD: unknown option 'betas' (valid: dampening, lr, maximize, momentum, nesterov, weight_decay)")
    errors(function() optim.SGD({p}, {lr = 0.1, nesterov = true}) end,
      "SGD: Nesterov momentum requires a momentum and zero dampening")
    errors(function() optim.Adam({p}, {betas = {1, 0.999}}) end,
      "Adam: invalid beta parameter at index 0: 1 (must be in [0, 1))")
    errors(function() optim.Adam({p}, {betas = 0.9}) end, "Adam: option 'betas' must be a table of two numbers")
    errors(function() optim.Adam({p}, {amsgrad = 1}) end, "Adam: option 'amsgrad' must be a boolean, got number")
    errors(function() optim.SGD(p) end, "SGD: params must be an array of tensors or of parameter groups, got a single tensor")
    errors(function() optim.SGD({p, 3}) end, "SGD: parameter 2 of group 1 is a number, not an open tensor")
    errors(function() optim.SGD({p, p}) end, "SGD: parameter 2 of group 1 appears twice in the group (also at 1)")
    errors(function() optim.SGD({{params = {p}}, {params = {p}}}) end,
      "SGD: parameter 1 of group 2 is also parameter 1 of group 1")
    errors(function() optim.SGD({{params = {p}}, {lr = 1}}) end, "SGD: parameter group 2 has no 'params' field")
    errors(function() optim.SGD({{params = {p}, foo = 1}}) end,
      "SGD: unknown option 'foo' (valid: dampening, lr, maximize, momentum, nesterov, weight_decay, params)")
    errors(function() optim.Adagrad({p}, {momentum = 0.9}) end,
      "Adagrad: unknown option 'momentum' (valid: eps, initial_accumulator_value, lr, lr_decay, maximize, weight_decay)")
    errors(function() optim.RMSprop({p}, {alpha = -1}) end, "RMSprop: invalid alpha value: -1")
    errors(function() optim.SGD({p}, {[1] = 0.1}) end, "SGD: option names must be strings, got a number key")
    errors(function() optim.SGD({p}, 0.1) end, "SGD: options must be a table, got number")
    errors(function() optim.SGD({lunet.tensor({1, 2}, {dtype = "int64"})}) end,
      "SGD: parameter 1 of group 1 has dtype int64; only float32 and float64 can be optimized")
    errors(function() optim.SGD({lunet.zeros(2, 3):t()}) end,
      "SGD: parameter 1 of group 1 (shape [3, 2]) is not contiguous")
    errors(function() optim.SGD({p * 2}) end, "SGD: can't optimize a non-leaf tensor (parameter 1 of group 1, made by ")
  end)

  it("a closed optimizer says so", function()
    local opt = optim.SGD({param{1}})
    opt:close()
    errors(function() opt:step() end, "attempt to use a closed optimizer")
    assert.equal("Optimizer (closed)", tostring(opt))
    do local o2 <close> = optim.SGD({param{1}}) end
  end)
end)

describe("schedulers", function()
  local function lrs_of(sched, n, metrics)
    local out = {sched:get_last_lr()[1]}
    for i = 1, n do
      sched:step(metrics and metrics[i])
      out[#out + 1] = sched:get_last_lr()[1]
    end
    return out
  end

  it("StepLR as PyTorch: 1, 1, 0.5, 0.5, 0.25", function()
    local opt = optim.SGD({param{1}}, {lr = 1})
    local s = optim.StepLR(opt, {step_size = 2, gamma = 0.5})
    assert.same({1, 1, 0.5, 0.5, 0.25}, lrs_of(s, 4))
    assert.equal(0.25, opt:get_lr())
  end)

  it("ExponentialLR", function()
    local opt = optim.SGD({param{1}}, {lr = 2})
    local s = optim.ExponentialLR(opt, {gamma = 0.5})
    assert.same({2, 1, 0.5, 0.25}, lrs_of(s, 3))
  end)

  it("CosineAnnealingLR: PyTorch's values for T_max = 10 from 0.1", function()
    local opt = optim.SGD({param{1}}, {lr = 0.1})
    local s = optim.CosineAnnealingLR(opt, {T_max = 10})
    local got = lrs_of(s, 10)
    local want = {0.1, 0.09755282581475769, 0.09045084971874738, 0.07938926261462367,
      0.06545084971874738, 0.05, 0.03454915028125264, 0.02061073738537635,
      0.009549150281252633, 0.0024471741852423235, 0}
    for i = 1, #want do near(got[i], want[i], 1e-12) end
    local opt2 = optim.SGD({param{1}}, {lr = 1})
    local s2 = optim.CosineAnnealingLR(opt2, {T_max = 2, eta_min = 0.5})
    local got2 = lrs_of(s2, 2)
    near(got2[2], 0.75)
    near(got2[3], 0.5)
  end)

  it("ReduceLROnPlateau: patience, cooldown, threshold, min_lr", function()
    local opt = optim.SGD({param{1}}, {lr = 1})
    local s = optim.ReduceLROnPlateau(opt, {factor = 0.5, patience = 2})
    -- best 10, 9; then three epochs without a relative 1e-4 improvement (8.9995 > 9(1 - 1e-4))
    assert.same({1, 1, 1, 1, 1, 0.5, 0.5}, lrs_of(s, 6, {10, 9, 9, 8.9995, 9, 9}))
    local opt2 = optim.SGD({param{1}}, {lr = 1})
    local s2 = optim.ReduceLROnPlateau(opt2, {mode = "max", factor = 0.1, patience = 0,
      cooldown = 1, min_lr = 0.05})
    -- patience 0: every non-improving epoch reduces, except those in cooldown
    local got = lrs_of(s2, 5, {1, 0, 0, 0, 0})
    near(got[3], 0.1)   -- epoch 2 reduces
    near(got[4], 0.1)   -- cooldown
    near(got[5], 0.05)  -- 0.01 clamped to min_lr
    near(got[6], 0.05)
    s2:step(lunet.tensor(5.0))
    assert.equal(5, s2.best)
  end)

  it("state_dict round trip", function()
    local opt = optim.SGD({param{1}}, {lr = 1})
    local s = optim.StepLR(opt, {step_size = 2, gamma = 0.5})
    for _ = 1, 3 do s:step() end
    local sd = s:state_dict()
    assert.equal(3, sd.last_epoch)
    assert.is_nil(sd.optimizer)
    local opt2 = optim.SGD({param{1}}, {lr = 1})
    local s2 = optim.StepLR(opt2, {step_size = 5, gamma = 0.1})
    s2:load_state_dict(sd)
    s:step(); s2:step()
    assert.same(s:get_last_lr(), s2:get_last_lr())
    assert.equal(0.25, opt2:get_lr())
    errors(function() s2:load_state_dict({foo = 1}) end, "StepLR:load_state_dict: unknown key 'foo'")
    errors(function() s2:load_state_dict({gamma = "x"}) end,
      "StepLR:load_state_dict: 'gamma' must be a number, got string")
  end)

  it("bad options are errors", function()
    local opt = optim.SGD({param{1}}, {lr = 1})
    errors(function() optim.StepLR(opt, {gamma = 0.5}) end, "StepLR: option 'step_size' is required")
    errors(function() optim.StepLR(opt, {step_size = 0}) end, "StepLR: step_size must be a positive integer, got 0")
    errors(function() optim.StepLR(opt, {step_size = 1.5}) end, "StepLR: option 'step_size' must be an integer, got 1.5")
    errors(function() optim.StepLR(opt, {step_size = 2, gama = 0.5}) end,
      "StepLR: unknown option 'gama' (valid: gamma, step_size)")
    errors(function() optim.StepLR({}, {step_size = 2}) end, "StepLR: the first argument must be an optimizer, got table")
    errors(function() optim.ReduceLROnPlateau(opt, {factor = 1}) end, "ReduceLROnPlateau: factor should be < 1.0, got 1")
    errors(function() optim.ReduceLROnPlateau(opt, {mode = "up"}) end, "ReduceLROnPlateau: mode 'up' is unknown")
    errors(function() optim.ReduceLROnPlateau(opt, {min_lr = {1, 2}}) end, "ReduceLROnPlateau: expected 1 min_lrs, got 2")
    local s = optim.ReduceLROnPlateau(opt)
    errors(function() s:step() end, "ReduceLROnPlateau:step: a metric value is required")
    errors(function() s:step("x") end, "ReduceLROnPlateau:step: the metric must be a number, got string")
  end)
end)
