-- memory_spec.lua: the block cache behind tensor storage is bounded and given back by
-- collections (lunet.memory_stats), while a steady loop keeps running from it.
local lunet = require "lunet"

local MiB = 1024 * 1024

describe("lunet.memory_stats", function()
  it("reports live storage, cached bytes and allocator calls", function()
    collectgarbage(); collectgarbage()
    local s0 = lunet.memory_stats()
    assert.are.equal("integer", math.type(s0.bytes_in_use))
    assert.are.equal("integer", math.type(s0.cached_bytes))
    assert.are.equal("integer", math.type(s0.alloc_calls))
    local t = lunet.zeros(1000, {dtype = "float64"})
    assert.are.equal(s0.bytes_in_use + 8000, lunet.memory_stats().bytes_in_use)
    t:close()
    assert.are.equal(s0.bytes_in_use, lunet.memory_stats().bytes_in_use)
    assert.is_true(lunet.memory_stats().cached_bytes >= 8000)
  end)
end)

describe("the block cache", function()
  it("keeps at most 64 MiB over the working set of tensors of varying sizes", function()
    collectgarbage(); collectgarbage()
    local most = 0
    for i = 1, 300 do                       -- 0.4 to 1.6 MB each, about 300 MB in all
      local t <close> = lunet.zeros(100000 + 1000 * i)
      local c = lunet.memory_stats().cached_bytes
      if c > most then most = c end
    end
    assert.is_true(most <= 66 * MiB, ("the cache held %d bytes"):format(most))
    assert.is_true(most >= 60 * MiB, ("the cache held only %d bytes"):format(most))
  end)

  it("is given back by collections once no tensor asks for those sizes", function()
    collectgarbage(); collectgarbage()
    for i = 1, 100 do
      local t = lunet.zeros(100000 + 1000 * i)   -- garbage for the collector to free
      t = nil
    end
    collectgarbage()
    collectgarbage()
    local c = lunet.memory_stats().cached_bytes
    assert.is_true(c < 64 * 1024, ("%d bytes still cached"):format(c))
  end)

  it("serves a steady training loop without the allocator, collections included", function()
    local nn, optim = lunet.nn, lunet.optim
    lunet.manual_seed(1)
    local model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    local opt = optim.SGD(model:parameters(), {lr = 0.1})
    local x, y = lunet.randn(64, 8), lunet.randint(1, 4, {64})
    local calls
    for step = 1, 30 do
      if step == 4 then calls = lunet.memory_stats().alloc_calls end
      opt:zero_grad()
      local loss = nn.cross_entropy(model(x), y)
      loss:backward()
      opt:step()
      loss = nil
      collectgarbage()
    end
    assert.are.equal(0, lunet.memory_stats().alloc_calls - calls)
  end)
end)
