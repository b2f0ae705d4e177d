-- scripts/bench/char_rnn.lua: char-rnn's training iteration (2-layer LSTM 128 on one-hot
-- characters, batch 50 × sequence 50, RMSprop, element-wise clamp 5, the state carried across
-- batches — scripts/char_rnn.lua's defaults), Lunet against PyTorch's nn.LSTM on the same data
-- in one run: milliseconds per iteration (every iteration timed, the first WARMUP left out),
-- and the validation loss both reach after the same number of iterations.
--
--   lunet scripts/bench/char_rnn.lua [--quick] [--iters N]
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local lunet = require "lunet"
local nn, optim, data = lunet.nn, lunet.optim, lunet.data

B.header("char_rnn")
local ITERS = B.reps(200, 60)
for i, a in ipairs(arg) do if a == "--iters" then ITERS = assert(tonumber(arg[i + 1])) end end
local WARMUP = 10
local BATCH, SEQ, H, LAYERS = 50, 50, 128, 2
local corpus = B.root .. "/data/tinyshakespeare.txt.gz"

-- the data as char-rnn's loader cuts it (scripts/char_rnn.lua does the same)
local text = data.read_text(corpus)
local seen, chars, ids = {}, {}, {}
for i = 1, #text do seen[text:byte(i)] = true end
for b = 0, 255 do if seen[b] then chars[#chars + 1] = b; ids[b] = #chars end end
local V = #chars
local codes = {}
for i = 1, #text do codes[i] = ids[text:byte(i)] end
local all = lunet.tensor(codes, {dtype = "int64"})
local per = BATCH * SEQ
local n = all:size(1) - all:size(1) % per
local X = all:narrow(1, 1, n):view(BATCH, -1)
local Y = lunet.cat({all:narrow(1, 2, n - 1), all:narrow(1, 1, 1)}, 1):view(BATCH, -1)
local nb = n // per
local ntrain = math.floor(nb * 0.95)
local nval = nb - ntrain
local function get(k)  -- 0-based batch k
  return X:narrow(2, k * SEQ + 1, SEQ):contiguous(), Y:narrow(2, k * SEQ + 1, SEQ):contiguous():view(-1)
end

lunet.manual_seed(123)
local onehot = nn.Embedding(V, V)
lunet.no_grad(function() onehot.weight:copy_(lunet.eye(V)) end)
onehot.weight:set_requires_grad(false)
local rnn = nn.LSTM(V, H, {num_layers = LAYERS, batch_first = true})
local decoder = nn.Linear(H, V)
local params = {}
lunet.no_grad(function()
  for _, m in ipairs{rnn, decoder} do
    for name, p in pairs(m:named_parameters()) do
      p:uniform_(-0.08, 0.08)
      if name:match("^bias_ih_l%d+$") then p:narrow(1, H + 1, H):fill_(1) end
      params[#params + 1] = p
    end
  end
end)
local opt = optim.RMSprop(params, {lr = 2e-3, alpha = 0.95, eps = 1e-8})
local function forward(x, h, c)
  local y, h2, c2 = rnn(onehot(x), h, c)
  return decoder(y:reshape(-1, H)), h2, c2
end

local times, h, c, loss = {}, nil, nil, nil
for it = 0, ITERS - 1 do
  local t0 = lunet.clock()
  local k = it % ntrain
  if k == 0 then h, c = nil, nil end
  local x, y = get(k)
  opt:zero_grad()
  local logits
  logits, h, c = forward(x, h, c)
  loss = nn.cross_entropy(logits, y)
  loss:backward()
  nn.utils.clip_grad_value_(params, 5)
  opt:step()
  h, c = h:detach(), c:detach()
  times[#times + 1] = lunet.clock() - t0
end
local train_loss = loss:item()
rnn:eval()
local total = 0
lunet.no_grad(function()
  h, c = nil, nil
  for k = ntrain, ntrain + nval - 1 do
    local x, y = get(k)
    local logits
    logits, h, c = forward(x, h, c)
    total = total + nn.cross_entropy(logits, y):item()
  end
end)
local val = total / nval
local lunet_ts = table.move(times, WARMUP + 1, #times, 1, {})
print(("Lunet: %s per iteration over %d iterations; after %d: train loss %.4f, validation loss %.4f"):format(
  B.minmed(lunet_ts), #lunet_ts, ITERS, train_loss, val))

if not B.has_python("torch") then
  B.skip("char_rnn iteration", "torch", "python3-torch", B.fmt_time((B.stats(lunet_ts))))
  return
end
local r = B.run_python("char_rnn.py", {corpus, ITERS, 0})
local torch_ts = table.move(r.iter_s, WARMUP + 1, #r.iter_s, 1, {})
print(("PyTorch (%d threads): %s per iteration; validation loss %.4f"):format(
  r.threads[1], B.minmed(torch_ts), r.val_loss[1]))
B.compare("char_rnn iteration", lunet_ts, torch_ts, "torch-" .. r.threads[1] .. "t", "≥ 2×")
B.emit(("char_rnn val loss after %d it"):format(ITERS), ("%.4f"):format(val),
       ("torch %.4f"):format(r.val_loss[1]), val <= r.val_loss[1] and "no worse" or "worse",
       "≤ torch")
