#!/usr/bin/python3
"""Writes tests/fixtures/conv.lua: PyTorch's results for conv1d, conv2d, conv_transpose2d,
max_pool1d and max_pool2d over combinations of stride, padding ("same" and "valid" too),
dilation, groups, output_padding and ceil_mode, so tests/lua/conv_spec.lua checks Lunet against
PyTorch without PyTorch.

Each case holds the function's name, its options (as Lua's lunet.<fn> takes them), the inputs,
the output (max pooling: and its 1-based indices) and the gradients of loss = sum(y * wy) with
respect to every input. Everything in float64.

    /usr/bin/python3 scripts/make_conv_fixtures.py   (Debian's python3-torch)
"""
import os
import torch
import torch.nn.functional as F

from fixtures_lua import lua_value, tensor

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "conv.lua")

FN = {"conv1d": F.conv1d, "conv2d": F.conv2d, "conv_transpose2d": F.conv_transpose2d}


def conv(label, fn, x, w, bias, **opts):
    x = torch.randn(*x, requires_grad=True)
    w = (torch.randn(*w) * 0.5).requires_grad_()
    b = torch.randn(w.shape[1] * opts.get("groups", 1) if fn == "conv_transpose2d" else w.shape[0],
                    requires_grad=True) if bias else None
    y = FN[fn](x, w, b, **opts)
    wy = torch.randn(*y.shape)
    (y * wy).sum().backward()
    fields = {"label": label, "fn": fn, "opts": lua_value(opts), "x": tensor(x), "w": tensor(w),
              "y": tensor(y), "wy": tensor(wy), "dx": tensor(x.grad), "dw": tensor(w.grad)}
    if bias:
        fields.update(b=tensor(b), db=tensor(b.grad))
    return fields


def pool(label, fn, x, k, **opts):
    x = torch.randn(*x, requires_grad=True)
    f = F.max_pool1d if fn == "max_pool1d" else F.max_pool2d
    y, idx = f(x, k, return_indices=True, **opts)
    wy = torch.randn(*y.shape)
    (y * wy).sum().backward()
    return {"label": label, "fn": fn, "k": lua_value(k), "opts": lua_value(opts), "x": tensor(x),
            "y": tensor(y), "indices": tensor(idx + 1), "wy": tensor(wy), "dx": tensor(x.grad)}


cases = [
    conv("conv2d plain", "conv2d", (2, 3, 6, 7), (4, 3, 3, 3), True),
    conv("conv2d stride (2,1), padding (1,2), dilation (1,2)", "conv2d", (2, 3, 7, 8), (4, 3, 3, 2), True,
         stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
    conv("conv2d groups 2, stride 2, padding 1", "conv2d", (2, 4, 5, 5), (6, 2, 3, 3), True,
         stride=2, padding=1, groups=2),
    conv("conv2d depthwise (groups 4), no bias", "conv2d", (1, 4, 6, 6), (4, 1, 3, 3), False,
         padding=1, groups=4),
    conv("conv2d padding same, even kernel, dilation (1,2)", "conv2d", (2, 3, 6, 7), (3, 3, 4, 2), True,
         padding="same", dilation=(1, 2)),
    conv("conv2d padding valid", "conv2d", (1, 2, 5, 6), (3, 2, 2, 3), True, padding="valid"),
    conv("conv2d 1x1", "conv2d", (2, 5, 4, 3), (3, 5, 1, 1), True),
    conv("conv2d stride 3 past the edge", "conv2d", (1, 2, 8, 8), (2, 2, 3, 3), False, stride=3, padding=2),
    conv("conv1d stride 2, padding 1, dilation 2", "conv1d", (2, 3, 10), (4, 3, 3), True,
         stride=2, padding=1, dilation=2),
    conv("conv1d groups 3, padding same, kernel 4", "conv1d", (2, 3, 9), (6, 1, 4), True,
         padding="same", groups=3),
    conv("conv_transpose2d stride 2, padding 1, output_padding 1", "conv_transpose2d", (2, 3, 4, 5),
         (3, 2, 3, 3), True, stride=2, padding=1, output_padding=1),
    conv("conv_transpose2d groups 2, dilation 2, stride (1,2), output_padding (0,1)", "conv_transpose2d",
         (2, 4, 3, 4), (4, 3, 2, 3), True, stride=(1, 2), dilation=2, groups=2, output_padding=(0, 1)),
    conv("conv_transpose2d plain, no bias", "conv_transpose2d", (1, 2, 3, 3), (2, 3, 2, 2), False),
    pool("max_pool2d 2", "max_pool2d", (2, 3, 6, 7), 2),
    pool("max_pool2d 3, stride 2, padding 1, ceil_mode", "max_pool2d", (2, 2, 7, 8), 3,
         stride=2, padding=1, ceil_mode=True),
    pool("max_pool2d (2,3), stride (1,2), dilation 2", "max_pool2d", (1, 3, 7, 9), (2, 3),
         stride=(1, 2), dilation=2),
    pool("max_pool2d 2, stride 2, ceil_mode on an odd size", "max_pool2d", (1, 2, 5, 7), 2, ceil_mode=True),
    pool("max_pool2d 3, stride 3, padding 1, ceil_mode (last window dropped)", "max_pool2d", (1, 1, 6, 6),
         3, stride=3, padding=1, ceil_mode=True),
    pool("max_pool2d of a 3-D input", "max_pool2d", (3, 5, 6), 2, stride=1),
    pool("max_pool1d 3, stride 2, ceil_mode", "max_pool1d", (2, 3, 10), 3, stride=2, ceil_mode=True),
    pool("max_pool1d 2, dilation 2, padding 1", "max_pool1d", (2, 2, 9), 2, dilation=2, padding=1),
]

with open(OUT, "w") as f:
    f.write("-- tests/fixtures/conv.lua: written by scripts/make_conv_fixtures.py (PyTorch %s); "
            "do not edit.\nreturn {\n" % torch.__version__)
    for c in cases:
        f.write("  {\n" + "".join("    %s = %s,\n" % (k, v if k in ("opts", "k") or v.startswith("{")
                                                       else '"%s"' % v) for k, v in c.items()) + "  },\n")
    f.write("}\n")
print("wrote", OUT, len(cases), "cases")
