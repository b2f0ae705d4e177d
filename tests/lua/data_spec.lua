-- data_spec.lua: lunet.data — readers, data sets, splits, scalers, labels, batches.
local lunet = require "lunet"
local data = require "lunet.data"

local h = dofile("tests/lua/helpers.lua")
local f64, i64, msg, write = h.f64, h.i64, h.strip, h.write_file
local function raises(want, f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok)
  assert.are.equal(want, msg(err))
end
local function close(a, b, tol)
  if type(a) == "table" then
    assert.are.equal(#b, #a)
    for i = 1, #a do close(a[i], b[i], tol) end
  else
    assert.is_true(math.abs(a - b) <= (tol or 1e-12), ("%.17g vs %.17g"):format(a, b))
  end
end

describe("files", function()
  local tmp = os.tmpname()
  after_each(function() os.remove(tmp) end)

  it("read_csv: values, header names, options", function()
    write(tmp, "a,b\n1,2.5\n3,-4\n")
    local t, names = data.read_csv(tmp, {header = true})
    assert.are.equal("float32", t:dtype())
    assert.are.same({{1, 2.5}, {3, -4}}, t:totable())
    assert.are.same({"a", "b"}, names)
    write(tmp, "1;2\n3;4\n")
    local u, none = data.read_csv(tmp, {delimiter = ";", dtype = "int64"})
    assert.are.equal("int64", u:dtype())
    assert.are.same({{1, 2}, {3, 4}}, u:totable())
    assert.is_nil(none)
  end)

  it("read_idx: the MNIST layout", function()
    write(tmp, "\0\0\8\2\0\0\0\2\0\0\0\3" .. string.char(0, 1, 2, 253, 254, 255))
    local t = data.read_idx(tmp)
    assert.are.equal("float32", t:dtype())
    assert.are.same({{0, 1, 2}, {253, 254, 255}}, t:totable())
    assert.are.equal("int64", data.read_idx(tmp, {dtype = "int64"}):dtype())
  end)

  it("read_text: the bytes of a plain or gzipped file; load_tinyshakespeare: the shipped corpus", function()
    write(tmp, "ab\0c\n")
    assert.are.equal("ab\0c\n", data.read_text(tmp))
    local gz = os.tmpname()
    os.remove(gz)
    gz = gz .. ".gz"
    assert.is_true(os.execute("printf 'hello\\nworld' | gzip > " .. gz))
    assert.are.equal("hello\nworld", data.read_text(gz))
    os.remove(gz)
    local s = data.load_tinyshakespeare()
    assert.are.equal(1115394, #s)
    assert.are.equal("First Citizen:\n", s:sub(1, 15))
  end)

  local errors = {
    {"missing text", function() data.read_text("/nonexistent/x.txt") end,
      "read_text: cannot open '/nonexistent/x.txt': No such file or directory"},
    {"text path type", function() data.read_text(false) end,
      "read_text: path must be a string, got boolean"},
    {"missing csv", function() data.read_csv("/nonexistent/x.csv") end,
      "read_csv: cannot open '/nonexistent/x.csv': No such file or directory"},
    {"missing idx", function() data.read_idx("/nonexistent/x.idx") end,
      "read_idx: cannot open '/nonexistent/x.idx': No such file or directory"},
    {"path type", function() data.read_csv(3) end, "read_csv: path must be a string, got number"},
    {"option", function() data.read_csv("x", {headers = true}) end,
      "read_csv: unknown option 'headers'"},
    {"header type", function() data.read_csv("x", {header = "yes"}) end,
      "read_csv: header must be a boolean, got string"},
    {"split", function() data.load_fashion_mnist("val") end,
      "load_fashion_mnist: split must be \"train\" or \"test\", got val"},
    {"fashion missing", function() data.load_fashion_mnist("test", "/nonexistent") end,
      "load_fashion_mnist: /nonexistent/t10k-images-idx3-ubyte.gz not found: install the Debian "
      .. "package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass the "
      .. "directory that holds the IDX files"},
  }
  for _, c in ipairs(errors) do
    it("raises: " .. c[1], function() raises(c[3], c[2]) end)
  end

  it("read_csv: a malformed file names line and column", function()
    write(tmp, "1,2\n3,x\n")
    raises("read_csv: '" .. tmp .. "' line 2, column 2: 'x' is not a number",
      data.read_csv, tmp)
    write(tmp, "1,2\n3\n")
    raises("read_csv: '" .. tmp .. "' line 2 has 1 fields, expected 2 (as the first row)",
      data.read_csv, tmp)
  end)

  it("the C reader returns nil, msg for a missing file and raises on misuse", function()
    local t, m = lunet._io.read_csv("/nonexistent/y.csv", false, ",", "float32")
    assert.is_nil(t)
    assert.are.equal("read_csv: cannot open '/nonexistent/y.csv': No such file or directory", m)
    assert.has_error(function() lunet._io.read_csv("x", false, ";;") end)
  end)
end)

describe("data sets", function()
  it("load_digits: 1797x64 float32 in 0..16, int64 labels 0..9", function()
    local X, y = data.load_digits()
    assert.are.same({1797, 64}, X:shape())
    assert.are.equal("float32", X:dtype())
    assert.are.same({1797}, y:shape())
    assert.are.equal("int64", y:dtype())
    assert.are.same({0, 0, 5, 13, 9, 1, 0, 0}, X[1]:narrow(1, 1, 8):totable())
    assert.are.equal(0, X:min():item())
    assert.are.equal(16, X:max():item())
    local counts = {}
    for _, v in ipairs(y:totable()) do counts[v + 1] = (counts[v + 1] or 0) + 1 end
    assert.are.same({178, 182, 177, 183, 181, 182, 181, 179, 174, 180}, counts)
  end)

  local fm = io.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", "rb")
  if fm then fm:close() end
  ;(fm and it or pending)("load_fashion_mnist: test split", function()
    local X, y = data.load_fashion_mnist("test")
    assert.are.same({10000, 784}, X:shape())
    assert.are.equal("float32", X:dtype())
    assert.are.equal(0, X:min():item())
    assert.are.equal(1, X:max():item())
    assert.are.equal("int64", y:dtype())
    assert.are.equal(0, y:min():item())
    assert.are.equal(9, y:max():item())
  end)
end)

describe("train_test_split", function()
  local X = lunet.arange(0, 20, 1, {dtype = "float32"}):view(10, 2)
  local y = i64{0, 1, 0, 1, 0, 1, 0, 1, 0, 1}

  it("row counts as scikit-learn: ceil(test_size * n)", function()
    for _, c in ipairs{{nil, 7, 3}, {0.3, 7, 3}, {0.31, 6, 4}, {0.5, 5, 5}, {2, 8, 2}, {0.01, 9, 1}} do
      local Xtr, Xte, ytr, yte = data.train_test_split(X, y, {test_size = c[1], random_state = 0})
      assert.are.equal(c[2], Xtr:size(1))
      assert.are.equal(c[3], Xte:size(1))
      assert.are.equal(c[2], ytr:size(1))
      assert.are.equal(c[3], yte:size(1))
    end
  end)

  it("is a deterministic partition with rows kept together", function()
    local a1, b1, c1, d1 = data.train_test_split(X, y, {random_state = 42})
    local a2, b2 = data.train_test_split(X, y, {random_state = 42})
    assert.are.same(a1:totable(), a2:totable())
    assert.are.same(b1:totable(), b2:totable())
    local seen = {}
    for _, part in ipairs{{a1, c1}, {b1, d1}} do
      local xs, ys = part[1]:totable(), part[2]:totable()
      for i, row in ipairs(xs) do
        assert.are.equal(row[1] + 1, row[2])
        assert.are.equal((row[1] / 2) % 2, ys[i])
        assert.is_nil(seen[row[1]])
        seen[row[1]] = true
      end
    end
    local n = 0
    for _ in pairs(seen) do n = n + 1 end
    assert.are.equal(10, n)
  end)

  it("shuffle = false keeps the order; Lua arrays work", function()
    local Xtr, Xte, ytr, yte = data.train_test_split(X, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
      {shuffle = false, test_size = 3})
    assert.are.same({0, 1}, Xtr[1]:totable())
    assert.are.same({14, 15}, Xte[1]:totable())
    assert.are.same({1, 2, 3, 4, 5, 6, 7}, ytr)
    assert.are.same({8, 9, 10}, yte)
  end)

  it("stratify keeps the class proportions (scikit-learn's _approximate_mode)", function()
    local _, _, ytr, yte = data.train_test_split(X, y, {test_size = 0.4, stratify = y,
      random_state = 3})
    local function count(t, v) local n = 0 for _, x in ipairs(t:totable()) do if x == v then n = n + 1 end end return n end
    assert.are.same({3, 3, 2, 2}, {count(ytr, 0), count(ytr, 1), count(yte, 0), count(yte, 1)})
    -- 3 classes of 3, n_test = ceil(0.34 * 9) = 4, n_train = 5: one class gives 1 to train
    local y3 = {0, 0, 0, 1, 1, 1, 2, 2, 2}
    local X3 = lunet.zeros(9, 1)
    for seed = 0, 5 do
      local _, _, tr, te = data.train_test_split(X3, y3, {test_size = 0.34, stratify = y3,
        random_state = seed})
      local ntr, nte = {0, 0, 0}, {0, 0, 0}
      for _, v in ipairs(tr) do ntr[v + 1] = ntr[v + 1] + 1 end
      for _, v in ipairs(te) do nte[v + 1] = nte[v + 1] + 1 end
      for c = 1, 3 do assert.are.equal(3, ntr[c] + nte[c]) end
      table.sort(ntr)
      assert.are.same({1, 2, 2}, ntr)
    end
  end)

  local nan = lunet.tensor({{1, 0 / 0}, {2, 3}})
  local errors = {
    {"rows", function() data.train_test_split(X, i64{1, 2}) end,
      "train_test_split: X has 10 rows but y has 2"},
    {"NaN", function() data.train_test_split(nan, {1, 2}) end, "train_test_split: X contains NaN"},
    {"option", function() data.train_test_split(X, y, {tst_size = 0.1}) end,
      "train_test_split: unknown option 'tst_size'"},
    {"float size", function() data.train_test_split(X, y, {test_size = 1.0}) end,
      "train_test_split: test_size=1.0 should be either positive and smaller than the number of "
      .. "samples 10 or a float in the (0, 1) range"},
    {"int size", function() data.train_test_split(X, y, {test_size = 10}) end,
      "train_test_split: test_size=10 should be either positive and smaller than the number of "
      .. "samples 10 or a float in the (0, 1) range"},
    {"sum", function() data.train_test_split(X, y, {test_size = 5, train_size = 6}) end,
      "train_test_split: the sum of train_size and test_size = 11, should be smaller than the "
      .. "number of samples 10"},
    {"single member", function() data.train_test_split(X, y, {stratify = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}) end,
      "train_test_split: the least populated class in y has only 1 member, which is too few. The "
      .. "minimum number of groups for any class cannot be less than 2"},
    {"stratify no shuffle", function() data.train_test_split(X, y, {stratify = y, shuffle = false}) end,
      "train_test_split: stratified train/test split is not implemented for shuffle=false"},
    {"too few test rows", function() data.train_test_split(X, y, {stratify = y, test_size = 1}) end,
      "train_test_split: the test_size = 1 should be greater or equal to the number of classes = 2"},
    {"random_state", function() data.train_test_split(X, y, {random_state = -1}) end,
      "train_test_split: random_state must be an integer in [0, 2^32 - 1] or a RandomState, got -1"},
  }
  for _, c in ipairs(errors) do
    it("raises: " .. c[1], function() raises(c[3], c[2]) end)
  end
end)

describe("scalers", function()
  it("StandardScaler: population std, scale 1 for constant features", function()
    local X = f64{{1, 10}, {2, 10}, {3, 10}}
    local sc = data.StandardScaler()
    local Z = sc:fit_transform(X)
    close(sc.mean_:totable(), {2, 10})
    close(sc.var_:totable(), {2 / 3, 0})
    close(sc.scale_:totable(), {math.sqrt(2 / 3), 1})
    local s = math.sqrt(1.5)
    close(Z:totable(), {{-s, 0}, {0, 0}, {s, 0}})
    close(sc:inverse_transform(Z):totable(), X:totable())
    assert.are.equal("float32", sc:transform(X:float()):dtype())
  end)

  it("MinMaxScaler: to [0, 1] and to a feature_range", function()
    local X = f64{{1, -1}, {3, 1}, {5, 3}}
    local mm = data.MinMaxScaler()
    close(mm:fit_transform(X):totable(), {{0, 0}, {0.5, 0.5}, {1, 1}})
    close(mm.data_min_:totable(), {1, -1})
    close(mm.data_max_:totable(), {5, 3})
    close(mm:inverse_transform(f64{{0.25, 1}}):totable(), {{2, 3}})
    local m2 = data.MinMaxScaler{feature_range = {-1, 1}}
    close(m2:fit_transform(X):totable(), {{-1, -1}, {0, 0}, {1, 1}})
  end)

  local errors = {
    {function() data.StandardScaler():transform(f64{{1}}) end,
      "StandardScaler.transform: not fitted: call fit first"},
    {function() data.StandardScaler():fit(f64{1, 2}) end,
      "StandardScaler.fit: X must be 2-D (samples x features), got shape [2]"},
    {function() data.StandardScaler():fit(f64{{1, 0 / 0}, {2, 3}}) end,
      "StandardScaler.fit: X contains NaN"},
    {function() data.MinMaxScaler():fit(f64{{0 / 0}}) end, "MinMaxScaler.fit: X contains NaN"},
    {function() data.StandardScaler():fit(f64{{1, 2}}):transform(f64{{1, 2, 3}}) end,
      "StandardScaler.transform: X has shape [1, 3], but StandardScaler is expecting 2 features as input"},
    {function() data.StandardScaler{with_mea = true} end, "StandardScaler: unknown option 'with_mea'"},
    {function() data.MinMaxScaler{feature_range = {1, 0}} end,
      "MinMaxScaler: feature_range must be {min, max} with min < max"},
  }
  for i, c in ipairs(errors) do
    it("raises on bad input " .. i, function() raises(c[2], c[1]) end)
  end
end)

describe("labels", function()
  it("LabelEncoder on strings: sorted classes, 1-based ids, inverse", function()
    local le = data.LabelEncoder()
    local ids = le:fit_transform{"b", "a", "c", "a"}
    assert.are.same({"a", "b", "c"}, le.classes_)
    assert.are.equal("int64", ids:dtype())
    assert.are.same({2, 1, 3, 1}, ids:totable())
    assert.are.same({"b", "a", "c", "a"}, le:inverse_transform(ids))
    raises("LabelEncoder.transform: y contains previously unseen labels: {d, e}",
      function() le:transform{"a", "e", "d"} end)
    raises("LabelEncoder.inverse_transform: y contains previously unseen labels: {0, 4}",
      function() le:inverse_transform{4, 0} end)
  end)

  it("LabelEncoder on an int64 tensor gives back a tensor", function()
    local le = data.LabelEncoder():fit(i64{5, 3, 5})
    assert.are.same({3, 5}, le.classes_)
    assert.are.same({2, 1, 2}, le:transform(i64{5, 3, 5}):totable())
    local back = le:inverse_transform(i64{1, 2})
    assert.are.equal("int64", back:dtype())
    assert.are.same({3, 5}, back:totable())
  end)

  it("one_hot: 1-based ids", function()
    assert.are.same({{0, 1, 0}, {1, 0, 0}, {0, 0, 1}}, data.one_hot({2, 1, 3}, 3):totable())
    assert.are.same({{0, 1}, {1, 0}}, data.one_hot(i64{2, 1}):totable())
    raises("one_hot: class id 4 out of range 1..3", data.one_hot, {1, 4}, 3)
    raises("one_hot: class id 0 out of range 1..3", data.one_hot, i64{0, 1}, 3)
    raises("one_hot: ids must be int64, got float32", data.one_hot, lunet.ones(2), 3)
  end)
end)

describe("batches", function()
  local X = lunet.arange(0, 10, 1, {dtype = "float32"}):view(10, 1)
  local y = lunet.arange(0, 10, 1, {dtype = "int64"})

  local function collect(opts)
    local sizes, rows = {}, {}
    for xb, yb in data.batches(X, y, opts) do
      sizes[#sizes + 1] = xb:size(1)
      local xs, ys = xb:totable(), yb:totable()
      for i = 1, #xs do
        assert.are.equal(xs[i][1], ys[i])
        rows[#rows + 1] = ys[i]
      end
    end
    return sizes, rows
  end

  it("in order, with and without drop_last", function()
    local sizes, rows = collect{batch_size = 4}
    assert.are.same({4, 4, 2}, sizes)
    assert.are.same({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, rows)
    assert.are.same({4, 4}, (collect{batch_size = 4, drop_last = true}))
    assert.are.same({10}, (collect{batch_size = 32}))
  end)

  it("shuffled: NumPy's permutation for the seed, as sklearn.utils.shuffle orders rows", function()
    local _, rows = collect{batch_size = 4, shuffle = true, random_state = 11}
    local want = data.RandomState(11):permutation(10)
    for i = 1, 10 do want[i] = want[i] - 1 end
    assert.are.same(want, rows)
  end)

  it("random_state and generator: validated, a generator seeds a RandomState", function()
    raises("batches: generator must be a lunet.Generator, got table", data.batches, X, y,
      {shuffle = true, generator = {}})
    raises("batches: give random_state or generator, not both", data.batches, X, y,
      {shuffle = true, generator = lunet.Generator(1), random_state = 1})
    local _, r1 = collect{batch_size = 3, shuffle = true, generator = lunet.Generator(4)}
    local _, r2 = collect{batch_size = 3, shuffle = true, generator = lunet.Generator(4)}
    assert.are.same(r1, r2)
  end)

  it("shuffled: a deterministic permutation for a seed", function()
    local _, r1 = collect{batch_size = 3, shuffle = true, random_state = 7}
    local _, r2 = collect{batch_size = 3, shuffle = true, random_state = 7}
    assert.are.same(r1, r2)
    local sorted = {table.unpack(r1)}
    table.sort(sorted)
    assert.are.same({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, sorted)
  end)

  it("X alone", function()
    local n = 0
    for xb, yb in data.batches(X, nil, {batch_size = 5}) do n = n + 1; assert.is_nil(yb) end
    assert.are.equal(2, n)
  end)

  local errors = {
    {function() data.batches(X, lunet.zeros(3)) end, "batches: X has 10 rows but y has 3"},
    {function() data.batches(X, y, {batch_size = 0}) end,
      "batches: batch_size must be a positive integer, got 0"},
    {function() data.batches(X, y, {shuffle = 1}) end, "batches: shuffle must be a boolean, got number"},
    {function() data.batches(X, y, {batchsize = 2}) end, "batches: unknown option 'batchsize'"},
  }
  for i, c in ipairs(errors) do
    it("raises on bad input " .. i, function() raises(c[2], c[1]) end)
  end
end)

describe("errors of lunet.data", function()
  -- each check runs one or two helpers deep inside data.lua; the position is still this file's
  it("name the caller's line", function()
    local cases = {
      {function() data.LabelEncoder():fit(42) end,
       "LabelEncoder.fit: y must be a tensor or a Lua array, got number"},
      {function() data.batches(lunet.zeros(3, 2), lunet.zeros(2)) end, "batches: X has 3 rows but y has 2"},
      {function() data.train_test_split(lunet.zeros(4, 2), {test_size = "x"}) end,
       "train_test_split: test_size must be a number, got string"},
      {function() data.StandardScaler():transform(lunet.zeros(2, 2)) end,
       "StandardScaler.transform: not fitted: call fit first"},
      {function() data.one_hot({1, 2.5}, 3) end, "one_hot: ids[2] = 2.5 is not an integer class id"},
    }
    for _, c in ipairs(cases) do
      local line = debug.getinfo(c[1], "S").linedefined
      local ok, e = pcall(c[1])
      assert.is_false(ok)
      assert.are.equal("data_spec.lua:" .. line .. ": " .. c[2], tostring(e):match("[^/]*$"))
    end
  end)
end)
