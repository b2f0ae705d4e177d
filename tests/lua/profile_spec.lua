-- profile_spec.lua: lunet.profile nests (the outer report includes the inner's ops) and keeps
-- the user's own debug hook.
local lunet = require "lunet"

local function rows(report)                  -- name -> calls
  local t = {}
  for _, r in ipairs(report) do t[r.name] = r.calls end
  return t
end

local function step(a)                       -- one matmul forward, its backward
  local loss = a:matmul(a):sum()
  loss:backward()
end

describe("lunet.profile", function()
  it("nests: the inner report has its own ops, the outer one all of them", function()
    local a = lunet.ones(4, 4, {requires_grad = true})
    local inner
    local outer = lunet.profile(function()
      step(a)
      inner = lunet.profile(function() step(a); step(a) end)
      step(a)
    end)
    local o, i = rows(outer), rows(inner)
    assert.are.equal(2, i.matmul)
    assert.are.equal(2, i["matmul backward"])
    assert.are.equal(4, o.matmul)
    assert.are.equal(4, o["matmul backward"])
    assert.are.equal(1, o.profile)
    assert.is_nil(i.profile)
    assert.is_true(outer.total_ms >= inner.total_ms)
  end)

  it("keeps counting in the outer profile after an inner one raises", function()
    local a = lunet.ones(3, 3)
    local outer = lunet.profile(function()
      a:matmul(a)
      assert.is_false(pcall(lunet.profile, function() a:matmul(a); error("boom") end))
      a:matmul(a)
    end)
    assert.are.equal(3, rows(outer).matmul)
  end)

  it("keeps the user's debug hook, which still sees its events meanwhile", function()
    local calls = 0
    local function hook() calls = calls + 1 end
    debug.sethook(hook, "c")
    local report = lunet.profile(function()
      local a = lunet.ones(2, 2)
      return a:matmul(a)
    end)
    local during = calls
    local h, mask = debug.gethook()
    debug.sethook()
    assert.are.equal(hook, h)
    assert.are.equal("c", mask)
    assert.is_true(during >= 3, "the hook saw " .. during .. " calls")
    assert.are.equal(1, rows(report).matmul)
    -- a count hook too
    local ticks = 0
    debug.sethook(function() ticks = ticks + 1 end, "", 1)
    lunet.profile(function() for _ = 1, 100 do end end)
    local _, m2, count = debug.gethook()
    debug.sethook()
    assert.are.equal("", m2)
    assert.are.equal(1, count)
    assert.is_true(ticks >= 100)
  end)
end)
