-- progress_spec.lua: lunet.progress, the tqdm-like bar (lunet/progress.lua).
local lunet = require "lunet"
local progress = require "lunet.progress"
local data = require "lunet.data"

local function sink()
  local buf = {}
  return {write = function(_, ...) for _, s in ipairs{...} do buf[#buf + 1] = s end end,
          flush = function() end, text = function() return table.concat(buf) end}
end

-- a clock the test moves by hand
local function fake_clock()
  local c = {now = 0}
  c.fn = function() return c.now end
  return c
end

describe("lunet.progress", function()
  after_each(function() progress.defaults = {}; progress.quiet = false end)

  it("is lunet.progress, callable", function()
    assert.are.equal(progress, lunet.progress)
  end)

  it("formats percent, bar, counts, elapsed<ETA, rate, unit and postfix", function()
    local c = fake_clock()
    local bar = progress.new(10, {desc = "epoch 1", clock = c.fn, width = 10, unit = "batch",
                                  out = sink()})
    bar.n = 4
    assert.are.equal("epoch 1:  40%|####------| 4/10 [00:02<00:03, 2.0 batch/s]", bar:line(2))
    bar:set_postfix{loss = 0.5, acc = 0.25, step = 3, note = "ok"}
    assert.are.equal("epoch 1:  40%|####------| 4/10 [01:20<02:00, 20.00 s/batch, acc=0.2500, "
                     .. "loss=0.5000, note=ok, step=3]", bar:line(80))
    bar:set_postfix("lr=0.1")
    bar.desc = nil
    assert.are.equal(" 40%|####------| 4/10 [1:00:00<1:30:00, 900.00 s/batch, lr=0.1]",
                     bar:line(3600))
    local open = progress.new(nil, {clock = c.fn, out = sink()})
    open.n = 7
    assert.are.equal("7 it [00:00, ? it/s]", open:line(0))
    assert.are.equal("7 it [00:02, 3.5 it/s]", open:line(2))
  end)

  it("off a terminal: nothing while running, one plain line at the end", function()
    local c, out = fake_clock(), sink()
    local seen = {}
    for i in lunet.progress(3, {desc = "d", tty = false, out = out, clock = c.fn, width = 4}) do
      seen[#seen + 1] = i
      c.now = c.now + 1
      assert.are.equal("", out.text())
    end
    assert.are.same({1, 2, 3}, seen)
    assert.are.equal("d: 100%|####| 3/3 [00:03<00:00, 1.0 it/s]\n", out.text())
    local none = sink()
    for _ in lunet.progress(3, {tty = false, plain = false, out = none}) do end
    assert.are.equal("", none.text())
  end)

  it("on a terminal: redraws in place at most every mininterval, ends the line", function()
    local c, out = fake_clock(), sink()
    local bar = progress.new(100, {tty = true, out = out, clock = c.fn, width = 4})
    bar:update(1)                                   -- drawn: the first draw is due
    c.now = 0.05; bar:update(1)                     -- too soon: not drawn
    c.now = 0.2; bar:update(1)
    assert.are.equal("\r\27[K  1%|----| 1/100 [00:00<?, ? it/s]"
                     .. "\r\27[K  3%|----| 3/100 [00:00<00:06, 15.0 it/s]", out.text())
    bar:close(); bar:close()                        -- idempotent
    assert.are.equal("\r\27[K  3%|----| 3/100 [00:00<00:06, 15.0 it/s]\n",
                     out.text():sub(-#"\r\27[K  3%|----| 3/100 [00:00<00:06, 15.0 it/s]\n"))
    -- delay: nothing drawn (and no newline) for a loop shorter than it
    local out2 = sink()
    local b2 = progress.new(5, {tty = true, out = out2, clock = c.fn, delay = 1})
    b2:update(5); b2:close()
    assert.are.equal("", out2.text())
  end)

  it("write prints a line above the bar and redraws it (tqdm.write)", function()
    local c, out, msgs = fake_clock(), sink(), sink()
    local saved = io.stdout
    io.stdout = msgs
    local bar = progress.new(10, {tty = true, out = out, clock = c.fn, width = 2})
    bar:update(1)
    bar:write("validation loss 1.5")
    bar:close()
    local plain = progress.new(10, {tty = false, out = sink(), clock = c.fn})
    plain:write("off a terminal")
    io.stdout = saved
    assert.are.equal("validation loss 1.5\noff a terminal\n", msgs.text())
    local line = "\r\27[K 10%|--| 1/10 [00:00<?, ? it/s]"
    assert.are.equal(line .. "\r\27[K" .. line .. line .. "\n", out.text())
  end)

  it("is silent when quiet, per bar or for the program", function()
    local out = sink()
    for _ in lunet.progress(3, {quiet = true, tty = true, out = out}) do end
    progress.quiet = true
    for _ in lunet.progress(3, {tty = true, out = out}) do end
    for _ in lunet.progress(3, {tty = false, out = out}) do end
    assert.are.equal("", out.text())
  end)

  it("wraps arrays, data.batches and any iterator, passing every value through", function()
    local out = sink()
    local got = {}
    for i, v in lunet.progress({"a", "b"}, {tty = false, out = out}) do got[#got + 1] = i .. v end
    assert.are.same({"1a", "2b"}, got)
    local X, y = lunet.arange(1, 11):view(10, 1), lunet.arange(1, 11)
    local bar = lunet.progress(data.batches(X, y, {batch_size = 4}), {total = 3, tty = false,
                                                                      out = out, unit = "batch"})
    local sizes = {}
    for xb, yb in bar do
      sizes[#sizes + 1] = xb:size(1)
      assert.are.same(xb:reshape(-1):totable(), yb:totable())
      bar:set_postfix{loss = 1}
    end
    assert.are.same({4, 4, 2}, sizes)
    assert.are.equal(3, bar.n)
    assert.matches("100%%|#+| 3/3 %[.*batch/s, loss=1%]\n$", out.text())
    -- a stateless iterator with its own state and control (string.gmatch and ipairs-like)
    local words = {}
    for w in lunet.progress(("x y z"):gmatch("%a"), {tty = false, out = out}) do words[#words + 1] = w end
    assert.are.same({"x", "y", "z"}, words)
  end)

  it("closes its line on break and on error", function()
    local out = sink()
    for i in lunet.progress(10, {tty = false, out = out, width = 2}) do if i == 3 then break end end
    assert.matches("^ 20%%|%-%-| 2/10 %[", out.text())
    local out2 = sink()
    local ok = pcall(function()
      for i in lunet.progress(10, {tty = false, out = out2}) do if i == 2 then error("boom") end end
    end)
    assert.is_false(ok)
    assert.matches(" 1/10 ", out2.text())
  end)

  it("rejects what it cannot wrap, naming the caller's line", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local ok, e = pcall(function() lunet.progress("abc") end)
    assert.is_false(ok)
    assert.are.equal("progress_spec.lua:" .. line .. ": progress: expects a count, a Lua array or an "
                     .. "iterator function, got string", e:match("[^/]*$"))
    assert.has_error(function() lunet.progress(3, {colour = "red"}) end,
                     "progress: unknown option 'colour'")
    assert.has_error(function() lunet.progress(-1) end, "progress: the count must be >= 0, got -1")
    assert.has_error(function() progress.new(3):update("x") end,
                     "progress: update takes a number of steps, got string")
  end)

  it("the estimators' bar ends its line before a warning", function()
    local c, out = fake_clock(), sink()
    progress.defaults = {tty = true, out = out, clock = function() c.now = c.now + 1; return c.now end}
    local saved = io.stderr
    io.stderr = out                                  -- the warning goes to the same stream
    local ok, e = pcall(function()
      local X = lunet.tensor{{0, 0}, {1, 1}, {0, 1}, {1, 0}}
      lunet.MLPClassifier{hidden_layer_sizes = {2}, max_iter = 3, random_state = 0}:fit(X, {0, 1, 1, 0})
    end)
    io.stderr = saved
    assert.is_true(ok, e)
    local text = out.text()
    assert.matches("MLPClassifier: 100%%|#+| 3/3 %[[^\n]*loss=[%d.]+%]\nConvergenceWarning", text)
  end)
end)
