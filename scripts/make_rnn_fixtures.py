#!/usr/bin/python3
"""Writes tests/fixtures/rnn.lua: PyTorch's outputs and gradients for Embedding, RNN/LSTM/GRU
and their cells, so tests/lua/rnn_spec.lua checks Lunet against PyTorch without PyTorch.

Each case holds the module's parameters (PyTorch's names), an input, optional initial states,
the outputs, and the gradients of  loss = sum(y * wy) + sum(h * wh) [+ sum(c * wc)]  with
respect to every parameter, the input and the given states. Everything in float64.

    /usr/bin/python3 scripts/make_rnn_fixtures.py   (Debian's python3-torch)
"""
import os
import torch

from fixtures_lua import lua_value, tensor

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "rnn.lua")


def layer_case(name, cls, input_size, hidden, T, B, opts, with_h0):
    """B None: unbatched input [T, input] and states [L * D, hidden]"""
    m = cls(input_size, hidden, **opts)
    bf = opts.get("batch_first", False)
    D = 2 if opts.get("bidirectional", False) else 1
    L = opts.get("num_layers", 1)
    if B is None:
        xshape, sshape = (T, input_size), (L * D, hidden)
    else:
        xshape, sshape = (B, T, input_size) if bf else (T, B, input_size), (L * D, B, hidden)
    x = torch.randn(*xshape, requires_grad=True)
    lstm = cls is torch.nn.LSTM
    h0 = torch.randn(*sshape, requires_grad=True) if with_h0 else None
    c0 = torch.randn(*sshape, requires_grad=True) if with_h0 and lstm else None
    if lstm:
        y, (h, c) = m(x, (h0, c0)) if with_h0 else m(x)
    else:
        y, h = m(x, h0) if with_h0 else m(x)
        c = None
    wy, wh = torch.rand_like(y), torch.rand_like(h)
    loss = (y * wy).sum() + (h * wh).sum()
    case = {"kind": cls.__name__, "input_size": input_size, "hidden": hidden, "opts": opts,
            "params": dict(m.named_parameters()), "x": x, "y": y, "h": h, "wy": wy, "wh": wh}
    if c is not None:
        wc = torch.rand_like(c)
        loss = loss + (c * wc).sum()
        case.update(c=c, wc=wc)
    loss.backward()
    case["grads"] = {k: p.grad for k, p in m.named_parameters()}
    case["gx"] = x.grad
    if with_h0:
        case.update(h0=h0, gh0=h0.grad)
        if lstm:
            case.update(c0=c0, gc0=c0.grad)
    return name, case


def cell_case(name, cls, input_size, hidden, B, opts, with_h0):
    """B None: unbatched input [input] and states [hidden]"""
    m = cls(input_size, hidden, **opts)
    xshape, sshape = ((input_size,), (hidden,)) if B is None else ((B, input_size), (B, hidden))
    x = torch.randn(*xshape, requires_grad=True)
    lstm = cls is torch.nn.LSTMCell
    h0 = torch.randn(*sshape, requires_grad=True) if with_h0 else None
    c0 = torch.randn(*sshape, requires_grad=True) if with_h0 and lstm else None
    if lstm:
        h, c = m(x, (h0, c0)) if with_h0 else m(x)
    else:
        h, c = (m(x, h0) if with_h0 else m(x)), None
    wh = torch.rand_like(h)
    loss = (h * wh).sum()
    case = {"kind": cls.__name__, "input_size": input_size, "hidden": hidden, "opts": opts,
            "params": dict(m.named_parameters()), "x": x, "h": h, "wh": wh}
    if c is not None:
        wc = torch.rand_like(c)
        loss = loss + (c * wc).sum()
        case.update(c=c, wc=wc)
    loss.backward()
    case["grads"] = {k: p.grad for k, p in m.named_parameters()}
    case["gx"] = x.grad
    if with_h0:
        case.update(h0=h0, gh0=h0.grad)
        if lstm:
            case.update(c0=c0, gc0=c0.grad)
    return name, case


def embedding_case():
    m = torch.nn.Embedding(6, 3, padding_idx=2)
    ids = torch.tensor([[0, 2, 5, 0], [3, 2, 1, 0]])
    y = m(ids)
    wy = torch.rand_like(y)
    (y * wy).sum().backward()
    # ids are stored 1-based, as Lunet takes them
    return "embedding", {"kind": "Embedding", "num": 6, "dim": 3, "padding_idx": 3,
                         "weight": m.weight, "ids": ids + 1, "y": y, "wy": wy,
                         "gweight": m.weight.grad}


def main():
    N = torch.nn
    cases = [
        layer_case("lstm", N.LSTM, 3, 4, 5, 2, {}, False),
        layer_case("lstm_h0", N.LSTM, 3, 4, 5, 2, {}, True),
        layer_case("lstm_bi2", N.LSTM, 3, 4, 4, 2, {"num_layers": 2, "bidirectional": True}, True),
        layer_case("lstm_bf", N.LSTM, 3, 4, 3, 2, {"batch_first": True, "num_layers": 2}, False),
        layer_case("gru", N.GRU, 3, 4, 5, 2, {}, True),
        layer_case("gru_bi2", N.GRU, 3, 4, 4, 3, {"num_layers": 2, "bidirectional": True}, False),
        layer_case("rnn_relu", N.RNN, 3, 4, 5, 2, {"nonlinearity": "relu", "bidirectional": True}, True),
        layer_case("rnn_nobias", N.RNN, 3, 4, 4, 2, {"bias": False, "num_layers": 2}, False),
        cell_case("lstmcell", N.LSTMCell, 3, 4, 2, {}, True),
        cell_case("lstmcell0", N.LSTMCell, 3, 4, 2, {}, False),
        cell_case("grucell", N.GRUCell, 3, 4, 2, {}, True),
        cell_case("rnncell", N.RNNCell, 3, 4, 2, {"nonlinearity": "relu"}, True),
        cell_case("rnncell0", N.RNNCell, 3, 4, 2, {"bias": False}, False),
        embedding_case(),
        # appended after the first cases so those keep their random draws
        layer_case("rnn_tanh_bi2", N.RNN, 3, 4, 4, 2, {"num_layers": 2, "bidirectional": True}, True),
        layer_case("gru_bf_h0", N.GRU, 3, 4, 3, 2, {"batch_first": True, "num_layers": 2}, True),
        layer_case("lstm_bi2_bf_h0", N.LSTM, 3, 4, 3, 2,
                   {"batch_first": True, "num_layers": 2, "bidirectional": True}, True),
        layer_case("lstm_unbatched", N.LSTM, 3, 4, 5, None, {"num_layers": 2}, True),
        layer_case("gru_unbatched", N.GRU, 3, 4, 5, None, {"bidirectional": True}, True),
        layer_case("rnn_unbatched", N.RNN, 3, 4, 5, None, {"batch_first": True}, False),
        cell_case("lstmcell_unbatched", N.LSTMCell, 3, 4, None, {}, True),
        cell_case("grucell_unbatched", N.GRUCell, 3, 4, None, {}, False),
        cell_case("rnncell_tanh", N.RNNCell, 3, 4, 2, {}, True),
    ]
    with open(OUT, "w") as f:
        f.write("-- tests/fixtures/rnn.lua: written by scripts/make_rnn_fixtures.py (PyTorch %s); "
                "do not edit.\nreturn {\n" % torch.__version__)
        for name, case in cases:
            f.write("  %s = {\n" % name)
            for k, v in case.items():
                f.write("    %s = %s,\n" % (k, lua_value(v)))
            f.write("  },\n")
        f.write("}\n")


if __name__ == "__main__":
    main()
