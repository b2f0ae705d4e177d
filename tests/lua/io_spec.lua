-- io_spec.lua: lunet.save / lunet.load (safetensors), checkpoints, and resuming training.
local lunet = require "lunet"

local function tmpname()
  local p = os.tmpname()       -- creates the file: save replaces it atomically
  return p
end

local function same(a, b)      -- bit-identical tensors
  if lunet.tensor == nil or a:dtype() ~= b:dtype() then return false end
  local sa, sb = a:shape(), b:shape()
  if #sa ~= #sb then return false end
  for i = 1, #sa do if sa[i] ~= sb[i] then return false end end
  local ta, tb = a:contiguous():view(-1):totable(), b:contiguous():view(-1):totable()
  for i = 1, #ta do
    if ta[i] ~= tb[i] and not (ta[i] ~= ta[i] and tb[i] ~= tb[i]) then return false end
  end
  return true
end

local helpers = dofile("tests/lua/helpers.lua")
local read_bytes, write_bytes = helpers.read_file, helpers.write_file

local function le64(n)
  return string.pack("<I8", n)
end

describe("lunet.save / lunet.load", function()
  local path
  before_each(function() path = tmpname() end)
  after_each(function() os.remove(path) end)

  it("round-trips a single tensor as a tensor", function()
    local t = lunet.tensor({{1.5, -2}, {3, 4}})
    assert.is_true(lunet.save(path, t))
    local u = lunet.load(path)
    assert.are.equal("float32", u:dtype())
    assert.is_true(same(t, u))
    -- stored under the name "tensor", so other tools see a sensible key
    local ts = lunet._io.load_tensors(path)
    assert.is_true(same(t, ts.tensor))
  end)

  it("round-trips float32, float64 and int64 exactly", function()
    local obj = {
      a = lunet.tensor({1 / 3, 1e-38, -0.0, 3.4e38}),
      b = lunet.tensor({math.pi, 1e-300, -1e300}, {dtype = "float64"}),
      c = lunet.tensor({math.mininteger, -1, 0, math.maxinteger}, {dtype = "int64"}),
      s = lunet.tensor(2.5, {dtype = "float64"}),
      e = lunet.zeros(0, 3),
    }
    assert.is_true(lunet.save(path, obj))
    local r = lunet.load(path)
    for k, v in pairs(obj) do assert.is_true(same(v, r[k]), k) end
    assert.are.equal(math.mininteger, r.c[1])
    assert.are.equal(math.maxinteger, r.c[4])
    assert.are.same({0, 3}, r.e:shape())
  end)

  it("writes a non-contiguous view as its contiguous values", function()
    local t = lunet.tensor({{1, 2, 3}, {4, 5, 6}})
    assert.is_true(lunet.save(path, {w = t:t()}))
    local r = lunet.load(path)
    assert.are.same({{1, 4}, {2, 5}, {3, 6}}, r.w:totable())
  end)

  it("restores nested checkpoints with types and key kinds intact", function()
    local ck = {
      model = {["0.weight"] = lunet.ones(2, 2), ["0.bias"] = lunet.zeros(2)},
      optim = {state = {[1] = {step = 3, exp_avg = lunet.full({2}, 0.25)}},
               param_groups = {{lr = 0.001, betas = {0.9, 0.999}, params = {1, 2}}}},
      epoch = 3, best = 0.97, whole = 2.0, name = "run-1", flag = true, off = false,
      inf = math.huge, ninf = -math.huge, bin = "\0\1\255binary",
      unicode = "h\u{e9}llo",
    }
    assert.is_true(lunet.save(path, ck))
    local r, meta = lunet.load(path)
    assert.are.equal(3, r.epoch); assert.are.equal("integer", math.type(r.epoch))
    assert.are.equal(0.97, r.best); assert.are.equal("float", math.type(r.best))
    assert.are.equal(2.0, r.whole); assert.are.equal("float", math.type(r.whole))
    assert.are.equal("run-1", r.name)
    assert.is_true(r.flag); assert.is_false(r.off)
    assert.are.equal(math.huge, r.inf); assert.are.equal(-math.huge, r.ninf)
    assert.are.equal("\0\1\255binary", r.bin)
    assert.are.equal("h\u{e9}llo", r.unicode)
    assert.is_true(same(ck.model["0.weight"], r.model["0.weight"]))
    assert.is_true(same(ck.optim.state[1].exp_avg, r.optim.state[1].exp_avg))
    assert.are.equal(3, r.optim.state[1].step)
    assert.is_nil(r.optim.state["1"])                     -- integer keys stay integers
    assert.are.same({0.9, 0.999}, r.optim.param_groups[1].betas)
    assert.are.same({1, 2}, r.optim.param_groups[1].params)
    -- dotted names in the file, plain-text scalars in the metadata for other tools
    local ts = lunet._io.load_tensors(path)
    assert.is_not_nil(ts["model.0.weight"])
    assert.is_not_nil(ts["optim.state.1.exp_avg"])
    assert.are.equal("3", meta.epoch)
    assert.are.equal("0.97", meta.best)
    assert.are.equal("3", meta["optim.state.1.step"])
    assert.is_nil(meta.__lunet__)
  end)

  it("writes the same bytes for the same checkpoint", function()
    local ck = {b = lunet.ones(3), a = lunet.zeros(2), n = 1, m = {x = "y", [2] = 5}}
    assert.is_true(lunet.save(path, ck))
    local first = read_bytes(path)
    assert.is_true(lunet.save(path, ck))
    assert.are.equal(first, read_bytes(path))
    local n = string.unpack("<I8", first)
    assert.are.equal(0, (8 + n) % 8)                    -- the header is padded to 8 bytes
    assert.are.equal(" ", first:sub(8 + n, 8 + n))
  end)

  it("saves a module through its state_dict", function()
    local nn = lunet.nn
    local m = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    assert.is_true(lunet.save(path, m))
    local sd = lunet.load(path)
    for name, t in pairs(m:state_dict()) do assert.is_true(same(t, sd[name]), name) end
    local m2 = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    m2:load_state_dict(sd)
    assert.is_true(same(m[1].weight, m2[1].weight))
  end)

  it("reads files of other tools as a flat table of tensors", function()
    local hdr = '{"__metadata__":{"format":"pt"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    hdr = hdr .. string.rep(" ", (8 - #hdr % 8) % 8)
    write_bytes(path, le64(#hdr) .. hdr .. string.pack("<ff", 1.5, -2))
    local r, meta = lunet.load(path)
    assert.are.same({1.5, -2}, r.x:totable())
    assert.are.equal("pt", meta.format)
  end)

  it("returns nil and a message for malformed files, never raising", function()
    local good = '{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    local cases = {
      {"", "parse_safetensors: 0 bytes is too short for the 8-byte header length"},
      {le64(100) .. "{}", "parse_safetensors: header length 100 runs past the end of the data (10 bytes in all)"},
      {le64(1 << 40) .. "{}", "parse_safetensors: header length 1099511627776 exceeds the limit of 100000000 bytes"},
      {le64(3) .. "{x}", "parse_safetensors: the header is not valid JSON (error at byte 2)"},
      {le64(#good) .. good, "parse_safetensors: tensor 'x': data_offsets [0, 4] out of range of the 0-byte data buffer"},
      {le64(2) .. '{"__metadata__":{"__lunet__":"t:nope"}}', nil},
    }
    for _, c in ipairs(cases) do
      local ok, r, msg = pcall(lunet._io.loads, c[1])
      assert.is_true(ok)
      assert.is_nil(r)
      if c[2] then assert.are.equal(c[2], msg) end
    end
    -- a layout naming a tensor that is not there
    local h = '{"__metadata__":{"__lunet__":"{\\"s:a\\":\\"t:nope\\"}"}}'
    h = h .. string.rep(" ", (8 - #h % 8) % 8)
    local r, msg = lunet._io.loads(le64(#h) .. h)
    assert.is_nil(r)
    assert.are.equal("load: (bytes): malformed __lunet__ metadata: it names tensor 'nope', which the file does not hold", msg)
    -- a layout that is not JSON, or has an unknown tag: still nil, msg
    for _, lay in ipairs({"{", '{\\"s:a\\":\\"q:1\\"}', '{\\"s:a\\":\\"i:1.5\\"}', '[1]'}) do
      h = '{"__metadata__":{"__lunet__":"' .. lay .. '"}}'
      h = h .. string.rep(" ", (8 - #h % 8) % 8)
      r, msg = lunet._io.loads(le64(#h) .. h)
      assert.is_nil(r)
      assert.matches("malformed __lunet__ metadata", msg)
    end
    -- a truncated file on disk: try_load returns nil, msg; load raises the same message
    assert.is_true(lunet.save(path, {w = lunet.ones(4)}))
    local bytes = read_bytes(path)
    write_bytes(path, bytes:sub(1, #bytes - 1))
    r, msg = lunet.try_load(path)
    assert.is_nil(r)
    assert.matches("out of range of the 15%-byte data buffer", msg)
    local ok, err = pcall(lunet.load, path)
    assert.is_false(ok)
    assert.are.equal(msg, err)
    -- metadata holding code is only ever a string
    h = '{"__metadata__":{"code":"os.exit(1)"}}'
    h = h .. string.rep(" ", (8 - #h % 8) % 8)
    local t, meta = lunet._io.loads(le64(#h) .. h)
    assert.are.same({}, t)
    assert.are.equal("os.exit(1)", meta.code)
  end)

  it("raises when the file cannot be opened or written; try_load returns nil and a message", function()
    local msg = "load_safetensors: cannot open '/nonexistent/dir/x.safetensors': No such file or directory"
    assert.has_error(function() lunet.load("/nonexistent/dir/x.safetensors") end, msg)
    local r, m = lunet.try_load("/nonexistent/dir/x.safetensors")
    assert.is_nil(r)
    assert.are.equal(msg, m)
    -- the typo is reported as such, not as "expected a table, got nil" further on
    local lin = lunet.nn.Linear(2, 2)
    assert.has_error(function() lin:load_state_dict(lunet.load("typo.safetensors")) end,
                     "load_safetensors: cannot open 'typo.safetensors': No such file or directory")
    local ok, err = pcall(lunet.save, "/nonexistent/dir/x.safetensors", lunet.ones(1))
    assert.is_false(ok)
    -- raised at the caller's line (here: pcall's caller, this spec)
    assert.matches("^[^:]*io_spec%.lua:%d+: save_safetensors: cannot create a temporary file next to", err)
  end)

  it("keeps the file's mode and a symlink, and leaves no temporary file", function()
    local function sh(cmd)
      local f = assert(io.popen(cmd))
      local out = f:read("a")
      f:close()
      return (out:gsub("%s+$", ""))
    end
    local dir = sh("mktemp -d")
    local file, link = dir .. "/m.safetensors", dir .. "/link.safetensors"
    assert.is_true(lunet.save(file, {w = lunet.ones(2)}))
    sh("chmod 600 '" .. file .. "' && ln -s m.safetensors '" .. link .. "'")
    assert.is_true(lunet.save(link, {w = lunet.zeros(3)}))
    assert.are.equal("600", sh("stat -c %a '" .. file .. "'"))
    assert.are.equal("symbolic link", sh("stat -c %F '" .. link .. "'"))
    assert.are.same({0, 0, 0}, lunet.load(file).w:totable())
    assert.are.equal("link.safetensors\nm.safetensors", sh("ls -A '" .. dir .. "'"))
    assert.has_error(function() lunet.save(dir .. "/no/x.safetensors", lunet.ones(1)) end,
                     "save_safetensors: cannot create a temporary file next to '" .. dir ..
                     "/no/x.safetensors': No such file or directory")
    sh("rm -r '" .. dir .. "'")
  end)

  it("raises on what cannot be saved, leaving the old file as it was", function()
    assert.is_true(lunet.save(path, {w = lunet.ones(2)}))
    local before = read_bytes(path)
    assert.has_error(function() lunet.save(path, {f = print}) end, "save: cannot save a function (at 'f')")
    local cyc = {}; cyc.me = cyc
    assert.has_error(function() lunet.save(path, cyc) end, "save: the table at 'me' contains itself")
    assert.has_error(function() lunet.save(path, {["a.b"] = lunet.ones(1), a = {b = lunet.ones(1)}}) end,
                     "save: two entries are stored under the name 'a.b'")
    assert.has_error(function() lunet.save(path, {[1.5] = 1}) end,
                     "save: the table at '(top)' has a float key (only strings and integers)")
    assert.has_error(function() lunet.save(path, 42) end, "save: expects a tensor, a table or a module, got number")
    local closed = lunet.ones(1); closed:close()
    assert.has_error(function() lunet.save(path, {c = closed}) end, "save: the tensor at 'c' is closed")
    assert.has_error(function() lunet.save(path, {__lunet__ = 1}) end,
                     "save: two entries are stored under the name '__lunet__'")
    assert.has_error(function() lunet.save() end)
    assert.has_error(function() lunet.load() end)
    assert.are.equal(before, read_bytes(path))
  end)

  it("saves and restores the default generator's state", function()
    lunet.manual_seed(11)
    local s = lunet.get_rng_state()
    assert.are.equal("int64", s:dtype())
    assert.are.same({5}, s:shape())
    local a = lunet.randn(5)
    assert.is_true(lunet.save(path, {rng = s}))
    lunet.set_rng_state(lunet.load(path).rng)
    assert.is_true(same(a, lunet.randn(5)))
    assert.has_error(function() lunet.set_rng_state(lunet.zeros(5)) end,
                     "set_rng_state: expects an int64 tensor of 5 elements (from get_rng_state)")
    assert.has_error(function() lunet.set_rng_state(lunet.zeros(5, {dtype = "int64"})) end)
  end)
end)

describe("resuming training from a checkpoint", function()
  local nn, optim = lunet.nn, lunet.optim

  -- a small classification problem; data order from a Generator, dropout from the default one
  lunet.manual_seed(3)
  local X = lunet.randn(48, 4)
  local y = X:narrow(2, 1, 1):gt(0):long():view(-1) + 1          -- classes 1, 2

  local function build(seed)
    lunet.manual_seed(seed)
    local model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))
    local opt = optim.Adam(model:parameters(), {lr = 0.01})
    return model, opt
  end

  local function epoch(model, opt, gen)
    local perm = lunet.randperm(48, {generator = gen})
    for b = 1, 48, 8 do
      local idx = perm:narrow(1, b, 8)
      local xb, yb = X:index_select(1, idx), y:index_select(1, idx)
      opt:zero_grad()
      local loss = nn.cross_entropy(model(xb), yb)
      loss:backward()
      opt:step()
    end
  end

  it("gives bit-identical weights to uninterrupted training", function()
    -- uninterrupted: 6 epochs
    local m1, o1 = build(42)
    local g1 = lunet.Generator(7)
    for _ = 1, 6 do epoch(m1, o1, g1) end

    -- interrupted after 3 epochs: checkpoint, then resume in fresh objects
    local m2, o2 = build(42)
    local g2 = lunet.Generator(7)
    for _ = 1, 3 do epoch(m2, o2, g2) end
    local path = tmpname()
    assert.is_true(lunet.save(path, {model = m2, optim = o2, epoch = 3, gen = g2:get_state(),
                                     rng = lunet.get_rng_state()}))
    for _ = 1, 2 do epoch(m2, o2, g2) end        -- work after the checkpoint is lost

    local ck = assert(lunet.load(path))
    os.remove(path)
    local m3, o3 = build(99)                      -- different init: everything must come from ck
    m3:load_state_dict(ck.model)
    o3:load_state_dict(ck.optim)
    local g3 = lunet.Generator(1)
    g3:set_state(ck.gen)
    lunet.set_rng_state(ck.rng)
    assert.are.equal(3, ck.epoch)
    for _ = ck.epoch + 1, 6 do epoch(m3, o3, g3) end

    local p1, p3 = m1:state_dict(), m3:state_dict()
    local n = 0
    for name, t in pairs(p1) do
      assert.is_true(same(t, p3[name]), name)
      n = n + 1
    end
    assert.are.equal(4, n)
    -- and it really trained: weights moved from a fresh build(42)
    local m0 = build(42)
    assert.is_false(same(m0:state_dict()["0.weight"], p1["0.weight"]))
  end)
end)

describe("read_csv on untrusted text", function()
  local data = lunet.data
  local path = os.tmpname()
  after_each(function() os.remove(path) end)

  it("accepts decimal numbers and nan / inf words only", function()
    write_bytes(path, "+5,-.5,1E+2\nnan,-Inf,INFINITY\n")
    local t = data.read_csv(path, {dtype = "float64"})
    local v = t:view(-1):totable()
    assert.are.same({5, -0.5, 100}, {v[1], v[2], v[3]})
    assert.is_true(v[4] ~= v[4])
    assert.are.same({-math.huge, math.huge}, {v[5], v[6]})
  end)

  local cases = {
    {"1,0x10\n", nil, "line 1, column 2: '0x10' is not a decimal number"},
    {"1\n2\n1e39\n", nil, "line 3, column 1: '1e39' is out of the range of float32"},
    {"1e400\n", "float64", "line 1, column 1: '1e400' is out of the range of float64"},
    {"inf\n", "int64", "line 1, column 1: 'inf' is not an int64"},
    {"a,b\0c\n1,2\n", nil, "line 1, column 2: NUL byte in header", true},
  }
  for i, c in ipairs(cases) do
    it("rejects case " .. i .. ": " .. c[3], function()
      write_bytes(path, c[1])
      local ok, err = pcall(data.read_csv, path, {dtype = c[2], header = c[4] or false})
      assert.is_false(ok)
      assert.are.equal("read_csv: '" .. path .. "' " .. c[3], (tostring(err):gsub("^[^:]*:%d+: ", "")))
    end)
  end
end)
