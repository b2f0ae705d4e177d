-- scripts/char_rnn.lua: Karpathy's char-rnn (Torch7, 2015) in Lunet — a character-level LSTM
-- language model trained on Tiny Shakespeare, with char-rnn's defaults and behaviour.
--
--   lunet scripts/char_rnn.lua [train] [--max_epochs 10] [--checkpoint cv/char_rnn.safetensors]
--   lunet scripts/char_rnn.lua sample --checkpoint cv/char_rnn.safetensors --temperature 0.8 \
--         --length 500 --primetext "ROMEO:"
--   lunet scripts/char_rnn.lua --help
--
-- As char-rnn's train.lua: the text is cut into batch_size streams read seq_length characters at
-- a time, so each batch continues the previous one and the LSTM's state is carried across
-- batches (truncated backpropagation through time); RMSprop (alpha 0.95), gradients clamped
-- element-wise to [-5, 5], the learning rate x0.97 per epoch after epoch 10; parameters
-- uniform in [-0.08, 0.08] and the forget gates' input bias 1. The best checkpoint (lowest
-- validation loss) is kept, with the optimizer's state, so --resume continues a run.
local lunet = require "lunet"
local nn = require "lunet.nn"
local optim = require "lunet.optim"
local data = require "lunet.data"

local cmd = lunet.CmdLine()
cmd:text("Train a character-level language model (char-rnn), or sample from a checkpoint.")
cmd:argument("mode", "train or sample", "train")
-- data
cmd:option("--data", "", "a text file (.gz read transparently); empty: the shipped Tiny Shakespeare")
cmd:option("--train_frac", 0.95, "fraction of the batches used for training")
cmd:option("--val_frac", 0.05, "fraction used for validation")
-- model
cmd:option("--model", "lstm", "lstm, gru or rnn")
cmd:option("--rnn_size", 128, "units in each layer's hidden state")
cmd:option("--num_layers", 2, "recurrent layers")
cmd:option("--dropout", 0, "dropout between layers (0 = none)")
-- optimization
cmd:option("--learning_rate", 2e-3, "RMSprop learning rate")
cmd:option("--decay_rate", 0.95, "RMSprop's alpha")
cmd:option("--learning_rate_decay", 0.97, "learning rate factor per epoch ...")
cmd:option("--learning_rate_decay_after", 10, "... once this many epochs are done")
cmd:option("--grad_clip", 5, "clamp each gradient element to [-grad_clip, grad_clip]")
cmd:option("--seq_length", 50, "characters per sequence (backpropagation length)")
cmd:option("--batch_size", 50, "sequences per batch")
cmd:option("--max_epochs", 50, "passes over the training text (fractions allowed)")
cmd:option("--init_scale", 0.08, "parameters start uniform in [-init_scale, init_scale]")
-- bookkeeping
cmd:option("--seed", 123, "random seed")
cmd:option("--eval_val_every", 1000, "iterations between validation-loss evaluations")
cmd:option("--checkpoint", "cv/char_rnn.safetensors", "where the best model is kept (train) or read (sample)")
cmd:option("--resume", "", "a checkpoint to continue training from")
cmd:option("--threads", 0, "threads (0: Lunet's default, the cores this process may use)")
cmd:option("--quiet", false, "no progress bar")
-- sampling
cmd:option("--length", 2000, "characters to sample")
cmd:option("--temperature", 1, "sampling temperature (lower: more conservative)")
cmd:option("--primetext", "", "text to prime the state with before sampling")
cmd:option("--sample", true, "sample (true) or take the most likely character (false)")
local opt = cmd:parse(arg)
if not opt then return end
if opt.threads > 0 then lunet.set_num_threads(opt.threads) end
lunet.progress.quiet = opt.quiet or nil

local RNNS = {lstm = nn.LSTM, gru = nn.GRU, rnn = nn.RNN}

---------------------------------------------------------------------------------------------------
-- the model: one-hot characters -> recurrent layers -> Linear -> logits over the vocabulary

local CharRNN = nn.Module("CharRNN")

function CharRNN:init(vocab_size, o)
  local R = RNNS[o.model] or error("--model must be lstm, gru or rnn, got " .. o.model, 0)
  -- char-rnn feeds one-hot vectors: an Embedding whose weight is the identity, frozen
  self.onehot = nn.Embedding(vocab_size, vocab_size)
  lunet.no_grad(function() self.onehot.weight:copy_(lunet.eye(vocab_size)) end)
  self.onehot.weight:set_requires_grad(false)
  self.rnn = R(vocab_size, o.rnn_size, {num_layers = o.num_layers, dropout = o.dropout,
                                         batch_first = true})
  self.decoder = nn.Linear(o.rnn_size, vocab_size)
  self.lstm = o.model == "lstm"
end

-- ids: batch × time int64 (1-based); state: {h, c} or nil. Returns logits (batch·time × vocab)
-- and the new state.
function CharRNN:forward(ids, state)
  state = state or {}
  local y, h, c = self.rnn(self.onehot(ids), state[1], state[2])
  local logits = self.decoder(y:reshape(-1, y:size(3)))
  return logits, {h, self.lstm and c or nil}
end

local function trainable(model)
  local ps = {}
  for _, p in ipairs(model:parameters()) do
    if p:requires_grad() then ps[#ps + 1] = p end
  end
  return ps
end

local function init_weights(model, o)
  lunet.no_grad(function()
    for name, p in pairs(model:named_parameters()) do
      if name:match("^rnn%.") then
        p:uniform_(-o.init_scale, o.init_scale)
        -- char-rnn: the forget gates' input bias starts at 1 (gate order i, f, g, o)
        if o.model == "lstm" and name:match("^rnn%.bias_ih_l%d+$") then
          p:narrow(1, o.rnn_size + 1, o.rnn_size):fill_(1)
        end
      elseif name:match("^decoder%.") then
        p:uniform_(-o.init_scale, o.init_scale)
      end
    end
  end)
end

local function detach(state)
  local s = {}
  for i, t in pairs(state) do s[i] = t:detach() end
  return s
end

---------------------------------------------------------------------------------------------------
-- the text: a vocabulary of its sorted characters, batch_size streams cut into seq_length pieces

local function load_text(path)
  return path == "" and data.load_tinyshakespeare() or data.read_text(path)
end

-- vocab: the text's distinct bytes in byte order (char-rnn sorts them), id = position (1-based)
local function make_vocab(text)
  local seen = {}
  for i = 1, #text do seen[text:byte(i)] = true end
  local chars, ids = {}, {}
  for b = 0, 255 do
    if seen[b] then chars[#chars + 1] = string.char(b); ids[b] = #chars end
  end
  return chars, ids
end

local function encode(text, ids)
  local t = {}
  for i = 1, #text do t[i] = ids[text:byte(i)] end
  return lunet.tensor(t, {dtype = "int64"})
end

-- char-rnn's CharSplitLMMinibatchLoader: x and y (the next characters, the last wrapping to the
-- first) as batch_size × (nbatches·seq_length); batch k is columns (k-1)·seq_length+1 …
local function make_batches(ids, o)
  local per = o.batch_size * o.seq_length
  local n = ids:size(1) - ids:size(1) % per
  if n == 0 then
    error(("the text has %d characters, fewer than one batch (%d × %d)"):format(
      ids:size(1), o.batch_size, o.seq_length), 0)
  end
  local x = ids:narrow(1, 1, n)
  local y = lunet.cat({ids:narrow(1, 2, n - 1), ids:narrow(1, 1, 1)}, 1)
  local nbatches = n // per
  local ntrain = math.floor(nbatches * o.train_frac)
  local nval = nbatches - ntrain
  if o.val_frac <= 0 then nval = 0 end
  if ntrain < 1 or (o.val_frac > 0 and nval < 1) then
    error(("%d batches are too few to split %.2f / %.2f: use a longer text or smaller batches"):format(
      nbatches, o.train_frac, o.val_frac), 0)
  end
  local B = {x = x:view(o.batch_size, -1), y = y:view(o.batch_size, -1), ntrain = ntrain,
             nval = nval, seq_length = o.seq_length}
  -- batch k of split ("train" from 1, "val" after the training batches): contiguous copies
  function B.get(split, k)
    local col = ((split == "val" and ntrain or 0) + k - 1) * o.seq_length + 1
    return B.x:narrow(2, col, o.seq_length):contiguous(),
           B.y:narrow(2, col, o.seq_length):contiguous():view(-1)
  end
  return B
end

---------------------------------------------------------------------------------------------------
-- checkpoints: the model, the optimizer, the vocabulary and the options in one safetensors file

local MODEL_OPTS = {"model", "rnn_size", "num_layers", "dropout"}

local function save_checkpoint(path, model, opt_, chars, o, info)
  local dir = path:match("^(.*)/[^/]*$")
  if dir then os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'") end
  local cp = {model = model:state_dict(), optim = opt_:state_dict(), vocab = table.concat(chars),
              arch = {}}
  for _, k in ipairs(MODEL_OPTS) do cp.arch[k] = o[k] end
  for k, v in pairs(info) do cp[k] = v end
  lunet.save(path, cp)
end

local function vocab_from(cp)
  local chars, ids = {}, {}
  for i = 1, #cp.vocab do
    chars[i] = cp.vocab:sub(i, i)
    ids[cp.vocab:byte(i)] = i
  end
  return chars, ids
end

---------------------------------------------------------------------------------------------------
-- training

local function eval_split(model, B, split, n)
  model:eval()
  local total, state = 0, nil
  lunet.no_grad(function()
    for k = 1, n do
      local x, y = B.get(split, k)
      local logits
      logits, state = model(x, state)
      total = total + nn.cross_entropy(logits, y):item()
    end
  end)
  model:train()
  return total / n
end

local function train(o)
  lunet.manual_seed(o.seed)
  local text = load_text(o.data)
  local chars, ids, resumed = nil, nil, nil
  if o.resume ~= "" then
    resumed = lunet.load(o.resume)
    for _, k in ipairs(MODEL_OPTS) do o[k] = resumed.arch[k] end
    chars, ids = vocab_from(resumed)
  else
    chars, ids = make_vocab(text)
  end
  local B = make_batches(encode(text, ids), o)
  print(("%d characters, vocabulary %d; %d training and %d validation batches of %d × %d"):format(
    #text, #chars, B.ntrain, B.nval, o.batch_size, o.seq_length))

  local model = CharRNN(#chars, o)
  init_weights(model, o)
  local params = trainable(model)
  local opt_ = optim.RMSprop(params, {lr = o.learning_rate, alpha = o.decay_rate, eps = 1e-8})
  local iter0, best = 0, math.huge
  if resumed then
    model:load_state_dict(resumed.model)
    opt_:load_state_dict(resumed.optim)
    iter0, best = resumed.iteration, resumed.val_loss
    print(("resumed from %s: iteration %d, validation loss %.4f"):format(o.resume, iter0, best))
  end
  print(model)
  print(("%d parameters"):format(model:num_parameters() - #chars * #chars))

  local iterations = math.floor(o.max_epochs * B.ntrain)
  local state, lr = nil, o.learning_rate
  local bar = lunet.progress(nil, {total = iterations, unit = "it", desc = "train"})
  bar:update(iter0)
  local t0 = lunet.clock()
  for it = iter0 + 1, iterations do
    local k = (it - 1) % B.ntrain + 1
    if k == 1 then state = nil end  -- each epoch starts from a zero state, as char-rnn's loader
    local x, y = B.get("train", k)
    opt_:zero_grad()
    local logits
    logits, state = model(x, state)
    local loss = nn.cross_entropy(logits, y)
    loss:backward()
    nn.utils.clip_grad_value_(params, o.grad_clip)
    opt_:step()
    state = detach(state)
    local l = loss:item()
    -- the learning rate decays at each epoch's end once learning_rate_decay_after are done
    if it % B.ntrain == 0 and o.learning_rate_decay < 1 then
      if it // B.ntrain >= o.learning_rate_decay_after then
        lr = lr * o.learning_rate_decay
        opt_:set_lr(lr)
      end
    end
    bar:update(1)
    bar:set_postfix{loss = ("%.3f"):format(l), epoch = ("%.2f"):format(it / B.ntrain),
                    ["ms/it"] = ("%.1f"):format((lunet.clock() - t0) * 1000 / (it - iter0))}
    if B.nval > 0 and (it % o.eval_val_every == 0 or it == iterations) then
      local val = eval_split(model, B, "val", B.nval)
      bar:write(("iteration %d (epoch %.2f): train loss %.4f, validation loss %.4f%s"):format(
        it, it / B.ntrain, l, val, val < best and "  (best: saved)" or ""))
      if val < best then
        best = val
        save_checkpoint(o.checkpoint, model, opt_, chars, o,
                        {iteration = it, epoch = it / B.ntrain, val_loss = val})
      end
    end
  end
  bar:close()
  print(("trained %d iterations in %.1f s (%.1f ms per iteration); best validation loss %.4f, kept in %s"):format(
    iterations - iter0, lunet.clock() - t0, (lunet.clock() - t0) * 1000 / math.max(1, iterations - iter0),
    best, o.checkpoint))
  return best
end

---------------------------------------------------------------------------------------------------
-- sampling

local function sample(o)
  local cp = lunet.load(o.checkpoint)
  for _, k in ipairs(MODEL_OPTS) do o[k] = cp.arch[k] end
  local chars, ids = vocab_from(cp)
  local model = CharRNN(#chars, o)
  model:load_state_dict(cp.model)
  model:eval()
  local gen = lunet.Generator(o.seed)
  local out, state = {}, nil
  local prime = o.primetext ~= "" and o.primetext
    or chars[lunet.randint(1, #chars + 1, {1}, {generator = gen}):item()]
  local last
  lunet.no_grad(function()
    -- prime the state with the text, one character at a time
    for i = 1, #prime do
      local id = ids[prime:byte(i)]
      if id == nil then
        error(("--primetext has %q, a character the model never saw"):format(prime:sub(i, i)), 0)
      end
      local logits
      logits, state = model(lunet.tensor({{id}}, {dtype = "int64"}), state)
      last = logits
    end
    out[1] = prime
    for _ = 1, o.length do
      local id
      if o.sample then  -- inverse CDF of softmax(logits / temperature) with one uniform draw
        local p = lunet.softmax(last[1] / o.temperature, 1):totable()
        local u, acc = lunet.rand(1, {generator = gen}):item(), 0
        id = #p
        for j, pj in ipairs(p) do
          acc = acc + pj
          if u < acc then id = j; break end
        end
      else
        id = last[1]:argmax():item()
      end
      out[#out + 1] = chars[id]
      last, state = model(lunet.tensor({{id}}, {dtype = "int64"}), state)
    end
  end)
  io.write(table.concat(out), "\n")
end

if opt.mode == "train" then
  train(opt)
elseif opt.mode == "sample" then
  sample(opt)
else
  error("mode must be train or sample, got " .. opt.mode, 0)
end
