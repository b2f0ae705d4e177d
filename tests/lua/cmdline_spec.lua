-- cmdline_spec.lua: lunet.CmdLine, the scripts' option parser (Torch7's torch.CmdLine).
local lunet = require "lunet"

local function make()
  local cmd = lunet.CmdLine()
  cmd:text("A test script")
  cmd:argument("mode", "train or sample", "train")
  cmd:option("--rnn_size", 128, "hidden units")
  cmd:option("-name", "lstm", "model type")
  cmd:option("--verbose", false, "a flag")
  cmd:option("--lr", 2e-3, "learning rate")
  return cmd
end

describe("CmdLine", function()
  it("gives the defaults, typed", function()
    local opt = make():parse({})
    assert.are.same({mode = "train", rnn_size = 128, name = "lstm", verbose = false, lr = 2e-3}, opt)
  end)

  it("reads --name value, -name value, --name=value, flags and positionals", function()
    local opt = make():parse({"sample", "--rnn_size", "64", "-name=gru", "--verbose", "--lr", "1e-2"})
    assert.are.same({mode = "sample", rnn_size = 64, name = "gru", verbose = true, lr = 0.01}, opt)
    assert.is_false(make():parse({"--verbose", "false"}).verbose)
    assert.is_true(make():parse({"--verbose=true"}).verbose)
  end)

  it("prints the help for --help and returns nil", function()
    local cmd = make()
    local printed
    local saved = _G.print   -- the module prints through the global table, not busted's env
    _G.print = function(s) printed = s end
    local opt = cmd:parse({[0] = "x.lua", "--help"})
    _G.print = saved
    assert.is_nil(opt)
    assert.are.equal(cmd:help("x.lua"), printed)
    assert.is_truthy(printed:find("A test script\nUsage: lunet x.lua [mode] [options]", 1, true))
    assert.is_truthy(printed:find("--rnn_size%s+hidden units  %(default 128%)"))
    assert.is_truthy(printed:find('--name%s+model type  %(default "lstm"%)'))
  end)

  local bad = {
    {{"--nope", "1"}, "unknown option --nope (--help lists the options)"},
    {{"--rnn_size", "big"}, "--rnn_size wants a number, got 'big'"},
    {{"--rnn_size"}, "option --rnn_size wants a value"},
    {{"a", "b"}, "unexpected argument 'b' (--help shows the usage)"},
  }
  for _, c in ipairs(bad) do
    it("refuses " .. table.concat(c[1], " "), function()
      local ok, err = pcall(make().parse, make(), c[1])
      assert.is_false(ok)
      assert.are.equal(c[2], err:gsub("^[^:]*:%d+: ", ""))
    end)
  end

  it("raises at the caller's line", function()
    local cmd = make()
    local ok, err = pcall(function() return cmd:parse({"--nope"}) end)
    assert.is_false(ok)
    assert.is_truthy(err:match("^[^:]*cmdline_spec%.lua:%d+: unknown option"), err)
    ok, err = pcall(function() cmd:option("--rnn_size", 1, "again") end)
    assert.is_truthy(err:find("--rnn_size is defined twice", 1, true))
    ok, err = pcall(function() cmd:option("--x", {}, "") end)
    assert.is_truthy(err:find("default must be a number, a string or a boolean, got table", 1, true))
    ok, err = pcall(cmd.parse, nil, {})
    assert.is_truthy(err:find("call it with ':'", 1, true))
  end)
end)
