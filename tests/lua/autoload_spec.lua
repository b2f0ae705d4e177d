-- autoload_spec.lua: lunet.<name> loads the pure-Lua parts listed in lunet/autoload.lua on
-- first use (the C module knows none of their names), caches them, and gives nil for others.
local lunet = require "lunet"

describe("lunet's autoloaded parts", function()
  local list = require "lunet.autoload"

  it("are the modules and fields the list names, loaded once and cached", function()
    assert.are.equal(require "lunet.nn", lunet.nn)
    assert.are.equal(lunet.nn, rawget(lunet, "nn"))
    assert.are.equal(require "lunet.optim", lunet.optim)
    assert.are.equal(require("lunet.estimators").MLPClassifier, lunet.MLPClassifier)
    assert.are.equal(require("lunet.estimators").MLPRegressor, lunet.MLPRegressor)
    assert.are.equal(require "lunet.linalg", lunet.linalg)
    assert.are.equal(require "lunet.distributed", lunet.distributed)
    assert.are.equal(require "lunet.cmdline", lunet.CmdLine)
  end)

  it("cover every name of the list, each giving a value", function()
    local n = 0
    for name in pairs(list) do
      assert.is_not_nil(lunet[name], name)
      n = n + 1
    end
    assert.are.equal(12, n)
  end)

  it("give nil for other names, strings or not", function()
    assert.is_nil(lunet.no_such_part)
    assert.is_nil(lunet.util)            -- a helper module, not a part of the lunet table
    assert.is_nil(lunet[1])
    assert.is_nil(lunet[true])
    assert.is_nil(rawget(lunet, "no_such_part"))
  end)

  it("are listed where the REPL's completion looks: the metatable's __dir", function()
    local dir = {}
    for _, name in ipairs(getmetatable(lunet).__dir) do dir[#dir + 1] = name end
    table.sort(dir)
    assert.are.same({"CmdLine", "MLPClassifier", "MLPRegressor", "data", "distributed", "linalg",
                     "metrics", "nn", "optim", "plot", "progress", "testing"}, dir)
    local _, value = debug.getupvalue(getmetatable(lunet).__index, 1)
    assert.are.equal(list, value)
  end)
end)
