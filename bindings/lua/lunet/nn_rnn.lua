-- lunet/nn_rnn.lua: sequence layers for lunet.nn — Embedding, RNN/LSTM/GRU and their cells —
-- and nn.utils' gradient clipping. Loaded by nn.lua: require("lunet.nn_rnn")(M) adds them to M.
--
-- A recurrent layer is, per layer and direction, one product for the input projections of
-- every step (F.linear over [T*B, in]) and one op for the recurrence (lunet.rnn_seq, the time
-- loop in C: runtime/ops_rnn.c). Shapes, gate order (LSTM i, f, g, o; GRU r, z, n), parameter
-- names and initialisation are PyTorch's, so its state_dicts load and give the same outputs.

local lunet = require "lunet"
local util = require "lunet.util"
local C = lunet._nn

local getmetatable, ipairs, math_type, sqrt, huge, max, type, tostring, format, concat =
      getmetatable, ipairs, math.type, math.sqrt, math.huge, math.max, type, tostring,
      string.format, table.concat
local raise, checkopts, shapestr = util.raise, util.checkopts, util.shapestr

_ENV = nil

local function is_tensor(v)
  return lunet.is_tensor(v)
end

local function posint(v, what, fname)
  if math_type(v) ~= "integer" or v < 1 then
    raise(format("%s: %s must be a positive integer, got %s", fname, what, tostring(v)))
  end
  return v
end

return function(M)
  local init = M.init

  -- ---- Embedding ------------------------------------------------------------------------------

  local Embedding = M.Module("Embedding")
  M.Embedding = Embedding

  --- Embedding(num, dim [, {padding_idx, dtype = "float32", generator}]): a table of num rows of
  --- dim; ids (int64, 1-based, any shape) select rows: the output adds a last dim.
  function Embedding:init(num, dim, opts)
    opts = checkopts("Embedding", opts, {"padding_idx", "dtype", "generator"})
    self.num_embeddings = posint(num, "num_embeddings", "Embedding")
    self.embedding_dim = posint(dim, "embedding_dim", "Embedding")
    local pad = opts.padding_idx
    if pad ~= nil then
      if math_type(pad) ~= "integer" or pad == 0 or pad > num or pad < -num then
        raise(format("Embedding: padding_idx must be an id in 1..%d (or negative from the end), got %s",
                     num, tostring(pad)))
      end
      if pad < 0 then pad = num + 1 + pad end
    end
    self.padding_idx = pad
    local w = lunet.empty(num, dim, {dtype = opts.dtype or "float32"})
    init.normal_(w, 0, 1, opts.generator)
    if pad then lunet.no_grad(function() w:select(1, pad):fill_(0) end) end
    self.weight = M.Parameter(w)
  end

  function Embedding:forward(ids)
    return lunet.embedding(ids, self.weight, self.padding_idx)
  end

  function Embedding:extra_repr()
    return format("%d, %d%s", self.num_embeddings, self.embedding_dim,
                  self.padding_idx and ", padding_idx=" .. self.padding_idx or "")
  end

  -- ---- shared by the layers and the cells ----------------------------------------------------

  local GATES = {rnn_tanh = 1, rnn_relu = 1, lstm = 4, gru = 3}

  -- the parameters of one layer and direction, in PyTorch's order and initialisation
  local function make_params(self, sfx, in_size, opts)
    local H, G = self.hidden_size, GATES[self.mode]
    local k = 1 / sqrt(H)
    local dt = {dtype = opts.dtype or "float32"}
    local function param(rows, cols)
      local t = cols and lunet.empty(rows, cols, dt) or lunet.empty(rows, dt)
      init.uniform_(t, -k, k, opts.generator)
      return M.Parameter(t)
    end
    self["weight_ih" .. sfx] = param(G * H, in_size)
    self["weight_hh" .. sfx] = param(G * H, H)
    if self.bias then
      self["bias_ih" .. sfx] = param(G * H)
      self["bias_hh" .. sfx] = param(G * H)
    end
  end

  -- one layer and direction over x [T, B, in]: the input projections as one product, then
  -- the recurrence; returns rnn_seq's packed output [T + 1 (+1), B, H]
  local function run(self, sfx, x, h0, c0, reverse)
    local T, B = x:size(1), x:size(2)
    local w_ih, b_ih = self["weight_ih" .. sfx], self["bias_ih" .. sfx]
    local gx = C.linear(x:reshape(T * B, x:size(3)), w_ih, b_ih):view(T, B, w_ih:size(1))
    return lunet.rnn_seq(self.mode, gx, self["weight_hh" .. sfx], self["bias_hh" .. sfx], h0, c0,
                         reverse)
  end

  local function check_input(self, x, fname)
    if not is_tensor(x) then raise(fname .. ": expected a tensor input, got " .. type(x)) end
    if x:dim() ~= 3 and x:dim() ~= 2 then
      raise(format("%s: expected a 3-D input ([seq, batch, %d]%s) or 2-D (unbatched), got %s",
                   fname, self.input_size, self.batch_first and ", or [batch, seq, ...] with batch_first" or "",
                   shapestr(x)))
    end
    if x:size(-1) ~= self.input_size then
      raise(format("%s: expected input with %d features, got %s", fname, self.input_size,
                   shapestr(x)))
    end
  end

  local function check_state(st, want, name, fname)
    if st == nil then return nil end
    if not is_tensor(st) then raise(fname .. ": " .. name .. " must be a tensor, got " .. type(st)) end
    local ok = st:dim() == #want
    for i = 1, #want do ok = ok and st:size(i) == want[i] end
    if not ok then
      raise(format("%s: %s must have shape [%s], got %s", fname, name, concat(want, ", "),
                   shapestr(st)))
    end
    return st
  end

  -- ---- RNN, LSTM, GRU ------------------------------------------------------------------------

  local RNNBase = M.Module("RNNBase")

  -- RNN's and RNNCell's mode from their nonlinearity option (LSTM and GRU name their own)
  local function rnn_mode(name, nl)
    nl = nl or "tanh"
    if nl ~= "tanh" and nl ~= "relu" then
      raise(name .. ": nonlinearity must be 'tanh' or 'relu', got '" .. tostring(nl) .. "'")
    end
    return "rnn_" .. nl
  end

  local function layer_class(name, mode)
    local cls = M.Module(name, RNNBase)
    M[name] = cls
    function cls:init(input_size, hidden_size, opts)
      local allowed = {"num_layers", "bias", "batch_first", "dropout", "bidirectional", "dtype",
                       "generator"}
      if not mode then allowed[#allowed + 1] = "nonlinearity" end
      opts = checkopts(name, opts, allowed)
      self.mode = mode or rnn_mode(name, opts.nonlinearity)
      self.input_size = posint(input_size, "input_size", name)
      self.hidden_size = posint(hidden_size, "hidden_size", name)
      self.num_layers = posint(opts.num_layers or 1, "num_layers", name)
      self.bias = opts.bias ~= false
      self.batch_first = opts.batch_first == true
      self.bidirectional = opts.bidirectional == true
      local p = opts.dropout or 0
      if type(p) ~= "number" or p < 0 or p > 1 then
        raise(name .. ": dropout must be a number in [0, 1], got " .. tostring(p))
      end
      self.dropout = p
      local D = self.bidirectional and 2 or 1
      for l = 0, self.num_layers - 1 do
        for d = 1, D do
          make_params(self, "_l" .. l .. (d == 2 and "_reverse" or ""),
                      l == 0 and self.input_size or hidden_size * D, opts)
        end
      end
    end
    return cls
  end
  layer_class("RNN", nil)
  layer_class("LSTM", "lstm")
  layer_class("GRU", "gru")

  --- y, h [, c] = layer(x [, h0 [, c0]])
  function RNNBase:forward(x, h0, c0)
    local fname = getmetatable(self).__name
    check_input(self, x, fname)
    local lstm = self.mode == "lstm"
    local unbatched = x:dim() == 2
    if unbatched then
      x = x:unsqueeze(2)
    elseif self.batch_first then
      x = x:transpose(1, 2)
    end
    local D = self.bidirectional and 2 or 1
    local L, H, T, B = self.num_layers, self.hidden_size, x:size(1), x:size(2)
    local want = unbatched and {L * D, H} or {L * D, B, H}
    if not lstm and c0 ~= nil then raise(fname .. ": only an LSTM takes c0") end
    h0, c0 = check_state(h0, want, "h0", fname), check_state(c0, want, "c0", fname)
    if unbatched then
      h0 = h0 and h0:unsqueeze(2)
      c0 = c0 and c0:unsqueeze(2)
    end
    local hs, cs = {}, {}
    for l = 0, L - 1 do
      if l > 0 and self.dropout > 0 and self.training then x = C.dropout(x, self.dropout, true) end
      local ys = {}
      for d = 1, D do
        local k = l * D + d
        local out = run(self, "_l" .. l .. (d == 2 and "_reverse" or ""), x,
                        h0 and h0:select(1, k), c0 and c0:select(1, k), d == 2)
        ys[d] = out:narrow(1, 1, T)
        hs[k] = out:select(1, T + 1)
        if lstm then cs[k] = out:select(1, T + 2) end
      end
      x = D == 2 and lunet.cat(ys, 3) or ys[1]
    end
    local h = lunet.stack(hs, 1)
    local c = lstm and lunet.stack(cs, 1) or nil
    if unbatched then
      x, h = x:squeeze(2), h:squeeze(2)
      c = c and c:squeeze(2)
    elseif self.batch_first then
      x = x:transpose(1, 2)
    end
    if lstm then return x, h, c end
    return x, h
  end

  function RNNBase:extra_repr()
    local s = format("%d, %d", self.input_size, self.hidden_size)
    if self.num_layers ~= 1 then s = s .. ", num_layers=" .. self.num_layers end
    if self.mode == "rnn_relu" then s = s .. ", nonlinearity=relu" end
    if not self.bias then s = s .. ", bias=false" end
    if self.batch_first then s = s .. ", batch_first=true" end
    if self.dropout ~= 0 then s = s .. ", dropout=" .. self.dropout end
    if self.bidirectional then s = s .. ", bidirectional=true" end
    return s
  end

  -- ---- cells -----------------------------------------------------------------------------------

  local CellBase = M.Module("RNNCellBase")

  local function cell_class(name, mode)
    local cls = M.Module(name, CellBase)
    M[name] = cls
    function cls:init(input_size, hidden_size, opts)
      local allowed = {"bias", "dtype", "generator"}
      if not mode then allowed[#allowed + 1] = "nonlinearity" end
      opts = checkopts(name, opts, allowed)
      self.mode = mode or rnn_mode(name, opts.nonlinearity)
      self.input_size = posint(input_size, "input_size", name)
      self.hidden_size = posint(hidden_size, "hidden_size", name)
      self.bias = opts.bias ~= false
      make_params(self, "", input_size, opts)
    end
    return cls
  end
  cell_class("RNNCell", nil)
  cell_class("LSTMCell", "lstm")
  cell_class("GRUCell", "gru")

  --- h = cell(x [, h]);  h, c = lstm_cell(x [, h, c])
  function CellBase:forward(x, h, c)
    local fname = getmetatable(self).__name
    if not is_tensor(x) then raise(fname .. ": expected a tensor input, got " .. type(x)) end
    if (x:dim() ~= 1 and x:dim() ~= 2) or x:size(-1) ~= self.input_size then
      raise(format("%s: expected input [batch, %d] or [%d], got %s", fname, self.input_size,
                   self.input_size, shapestr(x)))
    end
    local lstm = self.mode == "lstm"
    local unbatched = x:dim() == 1
    if unbatched then x = x:unsqueeze(1) end
    local want = unbatched and {self.hidden_size} or {x:size(1), self.hidden_size}
    if not lstm and c ~= nil then raise(fname .. ": only an LSTMCell takes c") end
    h, c = check_state(h, want, "h", fname), check_state(c, want, "c", fname)
    if unbatched then
      h = h and h:unsqueeze(1)
      c = c and c:unsqueeze(1)
    end
    local out = run(self, "", x:unsqueeze(1), h, c, false)
    local h1, c1 = out:select(1, 2), lstm and out:select(1, 3) or nil
    if unbatched then
      h1 = h1:squeeze(1)
      c1 = c1 and c1:squeeze(1)
    end
    if lstm then return h1, c1 end
    return h1
  end

  function CellBase:extra_repr()
    local s = format("%d, %d", self.input_size, self.hidden_size)
    if self.mode == "rnn_relu" then s = s .. ", nonlinearity=relu" end
    if not self.bias then s = s .. ", bias=false" end
    return s
  end

  M.functional.embedding = lunet.embedding   -- (ids, weight [, padding_idx]), 1-based

  -- ---- nn.utils: gradient clipping -------------------------------------------------------------

  local utils = M.utils or {}
  M.utils = utils

  -- the gradients of params: a tensor, a list of tensors, or a module's parameters
  local function grads_of(params, fname)
    if M.is_module(params) then params = params:parameters() end
    if is_tensor(params) then params = {params} end
    if type(params) ~= "table" then
      raise(fname .. ": expected a tensor, a list of tensors or a module, got " .. type(params))
    end
    local gs = {}
    for i, p in ipairs(params) do
      if not is_tensor(p) then
        raise(format("%s: element %d is a %s, not a tensor", fname, i, type(p)))
      end
      local g = p.grad
      if g then gs[#gs + 1] = g end
    end
    return gs
  end

  --- nn.utils.clip_grad_norm_(params, max_norm [, norm_type = 2]): scales the gradients in
  --- place so their joint norm is at most max_norm; returns the norm before clipping.
  function utils.clip_grad_norm_(params, max_norm, norm_type)
    local fname = "clip_grad_norm_"
    local gs = grads_of(params, fname)
    if type(max_norm) ~= "number" or max_norm ~= max_norm or max_norm < 0 then
      raise(fname .. ": max_norm must be a number >= 0, got " .. tostring(max_norm))
    end
    norm_type = norm_type or 2
    if norm_type == "inf" then norm_type = huge end
    if type(norm_type) ~= "number" or not (norm_type > 0) then
      raise(fname .. ": norm_type must be a positive number or math.huge, got " .. tostring(norm_type))
    end
    local total = 0
    lunet.no_grad(function()
      for _, g in ipairs(gs) do
        if norm_type == huge then
          total = max(total, g:abs():max():item())
        elseif norm_type == 2 then
          total = total + (g * g):sum():item()
        else
          total = total + (g:abs() ^ norm_type):sum():item()
        end
      end
      if norm_type ~= huge then total = total ^ (1 / norm_type) end
      local coef = max_norm / (total + 1e-6)
      if coef < 1 then
        for _, g in ipairs(gs) do g:mul_(coef) end
      end
    end)
    return total
  end

  --- nn.utils.clip_grad_value_(params, v): clamps every gradient element into [-v, v] in place.
  function utils.clip_grad_value_(params, v)
    local gs = grads_of(params, "clip_grad_value_")
    if type(v) ~= "number" or v ~= v or v < 0 then
      raise("clip_grad_value_: clip_value must be a number >= 0, got " .. tostring(v))
    end
    lunet.no_grad(function()
      for _, g in ipairs(gs) do g:clamp_(-v, v) end
    end)
  end
end
