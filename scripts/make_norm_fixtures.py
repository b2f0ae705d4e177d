#!/usr/bin/python3
"""Writes tests/fixtures/norm.lua: PyTorch's results for the normalization, average/adaptive
pooling and upsampling layers (BatchNorm1d/2d, LayerNorm, GroupNorm, AvgPool1d/2d,
AdaptiveAvgPool2d, AdaptiveMaxPool2d, Upsample), so tests/lua/norm_spec.lua checks Lunet's
layers against PyTorch without PyTorch.

Each case names the Lunet class, its constructor arguments and options (as Lua's lunet.nn takes
them: momentum None is false), the layer's full state_dict before the forward (names in
PyTorch's order, parameters drawn at random so the affine part counts), and one or more steps:
the input, the output (adaptive max pooling: and its 1-based indices), and the gradients of
loss = sum(y * wy) with respect to the input and the parameters. Batch norm cases run two
training steps (running statistics and num_batches_tracked after each) and then one in eval
mode. A last case is a small conv + BatchNorm2d + Linear net trained a few SGD steps in
PyTorch: its state_dict and its eval-mode predictions. Everything in float64.

    /usr/bin/python3 scripts/make_norm_fixtures.py   (Debian's python3-torch)
"""
import os
import torch
import torch.nn as nn

from fixtures_lua import lua_value, tensor

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "norm.lua")


def state(m):
    sd = m.state_dict()
    return {"names": list(sd.keys()), "tensors": {k: v.clone() for k, v in sd.items()}}


def randomize(m):
    """weight about 1, bias about 0, both random, so a wrong affine step shows"""
    with torch.no_grad():
        for n, p in m.named_parameters():
            p.copy_(torch.randn(p.shape) * 0.5 + (1.0 if n == "weight" else 0.0))


def step(m, shape, positive=False):
    """One forward/backward of m on a fresh input: x, y, wy and the gradients."""
    x = torch.randn(*shape) * 2 + 0.5
    if positive:
        x = x.abs() + 0.1
    x.requires_grad_()
    for p in m.parameters():
        p.grad = None
    out = m(x)
    y, idx = out if isinstance(out, tuple) else (out, None)
    wy = torch.randn(*y.shape)
    (y * wy).sum().backward()
    s = {"x": x, "y": y, "wy": wy, "dx": x.grad}
    if idx is not None:
        s["indices"] = idx + 1
    grads = {n: p.grad.clone() for n, p in m.named_parameters()}
    if grads:
        s["dparams"] = grads
    return s


def running(m):
    if getattr(m, "running_mean", None) is None:
        return {}
    return {"running_mean": m.running_mean.clone(), "running_var": m.running_var.clone(),
            "num_batches_tracked": int(m.num_batches_tracked)}


def case(label, cls, args, lua_opts, m, shape, train_steps=1, eval_step=False, positive=False):
    randomize(m)
    c = {"label": label, "cls": cls, "args": args, "opts": lua_opts or {}, "state": state(m), "steps": []}
    m.train()
    for _ in range(train_steps):
        s = step(m, shape, positive)
        s["training"] = True
        s.update(running(m))
        c["steps"].append(s)
    if eval_step:
        m.eval()
        s = step(m, shape, positive)
        s["training"] = False
        c["steps"].append(s)
    return c


F64 = {"dtype": "float64"}
cases = [
    case("BatchNorm2d: two training steps, then eval", "BatchNorm2d", [3], F64,
         nn.BatchNorm2d(3), (4, 3, 5, 6), train_steps=2, eval_step=True),
    case("BatchNorm2d momentum 0.3, eps 1e-3", "BatchNorm2d", [2], dict(F64, momentum=0.3, eps=1e-3),
         nn.BatchNorm2d(2, momentum=0.3, eps=1e-3), (3, 2, 4, 4), train_steps=2, eval_step=True),
    case("BatchNorm2d momentum None (cumulative average)", "BatchNorm2d", [3], dict(F64, momentum=None),
         nn.BatchNorm2d(3, momentum=None), (2, 3, 4, 5), train_steps=3, eval_step=True),
    case("BatchNorm2d affine false", "BatchNorm2d", [3], dict(F64, affine=False),
         nn.BatchNorm2d(3, affine=False), (2, 3, 4, 4), train_steps=2, eval_step=True),
    case("BatchNorm2d track_running_stats false: batch statistics in eval too", "BatchNorm2d", [3],
         dict(F64, track_running_stats=False), nn.BatchNorm2d(3, track_running_stats=False), (3, 3, 3, 4),
         train_steps=1, eval_step=True),
    case("BatchNorm1d on [N, C]", "BatchNorm1d", [5], F64, nn.BatchNorm1d(5), (6, 5),
         train_steps=2, eval_step=True),
    case("BatchNorm1d on [N, C, L], momentum None", "BatchNorm1d", [4], dict(F64, momentum=None),
         nn.BatchNorm1d(4, momentum=None), (3, 4, 7), train_steps=2, eval_step=True),
    case("LayerNorm over the last dim", "LayerNorm", [6], F64, nn.LayerNorm(6), (3, 4, 6)),
    case("LayerNorm over the last two dims, eps 1e-3", "LayerNorm", [[4, 5]], dict(F64, eps=1e-3),
         nn.LayerNorm([4, 5], eps=1e-3), (2, 3, 4, 5)),
    case("LayerNorm without affine", "LayerNorm", [5], dict(F64, elementwise_affine=False),
         nn.LayerNorm(5, elementwise_affine=False), (4, 5)),
    case("GroupNorm 2 groups of 3 channels", "GroupNorm", [2, 6], F64, nn.GroupNorm(2, 6), (3, 6, 4, 3)),
    case("GroupNorm one channel a group, [N, C, L]", "GroupNorm", [4, 4], dict(F64, eps=1e-4),
         nn.GroupNorm(4, 4, eps=1e-4), (2, 4, 9)),
    case("AvgPool2d 3, stride 2, padding 1, ceil_mode, count_include_pad false", "AvgPool2d", [3],
         {"stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
         nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (2, 2, 6, 7)),
    case("AvgPool2d (2,3), stride (1,2), padding (1,1), count_include_pad", "AvgPool2d", [[2, 3]],
         {"stride": [1, 2], "padding": [1, 1]},
         nn.AvgPool2d((2, 3), stride=(1, 2), padding=(1, 1)), (1, 3, 5, 7)),
    case("AvgPool2d 2, ceil_mode on an odd size", "AvgPool2d", [2], {"ceil_mode": True},
         nn.AvgPool2d(2, ceil_mode=True), (1, 2, 5, 5)),
    case("AvgPool1d 3, stride 2, padding 1, ceil_mode, count_include_pad false", "AvgPool1d", [3],
         {"stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
         nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (2, 3, 10)),
    case("AvgPool1d 4", "AvgPool1d", [4], None, nn.AvgPool1d(4), (2, 2, 11)),
    case("AdaptiveAvgPool2d 5x7 -> 3x4", "AdaptiveAvgPool2d", [[3, 4]], None,
         nn.AdaptiveAvgPool2d((3, 4)), (2, 3, 5, 7)),
    case("AdaptiveAvgPool2d 7x6 -> 4 (upward not needed, overlapping windows)", "AdaptiveAvgPool2d", [4], None,
         nn.AdaptiveAvgPool2d(4), (1, 2, 7, 6)),
    case("AdaptiveMaxPool2d 7x5 -> 3x2 with indices", "AdaptiveMaxPool2d", [[3, 2]], {"return_indices": True},
         nn.AdaptiveMaxPool2d((3, 2), return_indices=True), (2, 2, 7, 5)),
    case("AdaptiveMaxPool2d 5x5 -> 3 with indices", "AdaptiveMaxPool2d", [3], {"return_indices": True},
         nn.AdaptiveMaxPool2d(3, return_indices=True), (1, 3, 5, 5)),
    case("Upsample nearest, scale_factor 2", "Upsample", [], {"scale_factor": 2},
         nn.Upsample(scale_factor=2), (1, 2, 3, 4)),
    case("Upsample nearest, size (5, 7)", "Upsample", [], {"size": [5, 7]},
         nn.Upsample(size=(5, 7)), (2, 1, 3, 4)),
    case("Upsample nearest, scale_factor (1.5, 2.5)", "Upsample", [], {"scale_factor": [1.5, 2.5]},
         nn.Upsample(scale_factor=(1.5, 2.5)), (1, 2, 4, 3)),
    case("Upsample bilinear, scale_factor 2, align_corners false", "Upsample", [],
         {"scale_factor": 2, "mode": "bilinear", "align_corners": False},
         nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), (2, 2, 3, 4)),
    case("Upsample bilinear, size (5, 6), align_corners true", "Upsample", [],
         {"size": [5, 6], "mode": "bilinear", "align_corners": True},
         nn.Upsample(size=(5, 6), mode="bilinear", align_corners=True), (1, 2, 3, 4)),
    case("Upsample bilinear, size (2, 7) (down and up), align_corners false", "Upsample", [],
         {"size": [2, 7], "mode": "bilinear"},
         nn.Upsample(size=(2, 7), mode="bilinear"), (1, 1, 4, 5)),
    case("Upsample bilinear, scale_factor 1.7, align_corners true", "Upsample", [],
         {"scale_factor": 1.7, "mode": "bilinear", "align_corners": True},
         nn.Upsample(scale_factor=1.7, mode="bilinear", align_corners=True), (1, 2, 3, 5)),
]


# A small net with BatchNorm2d, trained a few SGD steps so its running statistics moved; the
# state_dict and the eval-mode predictions on fresh inputs
def net_case():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(36, 3))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(3):
        x, t = torch.randn(8, 1, 6, 6), torch.randint(0, 3, (8,))
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), t).backward()
        opt.step()
    net.eval()
    x = torch.randn(5, 1, 6, 6)
    with torch.no_grad():
        y = net(x)
    return {"label": "conv + BatchNorm2d + Linear net, eval mode", "state": state(net), "x": x, "y": y}


def state_lua(s):
    return "{names = %s, tensors = {%s}}" % (
        lua_value(s["names"]), ", ".join('["%s"] = %s' % (k, tensor(v)) for k, v in s["tensors"].items()))


def case_lua(c):
    out = ["  {\n"]
    for k, v in c.items():
        if k == "state":
            text = state_lua(v)
        elif k == "steps":
            text = "{\n" + "".join("      %s,\n" % lua_value(s) for s in v) + "    }"
        else:
            text = lua_value(v)
        out.append("    %s = %s,\n" % (k, text))
    out.append("  }")
    return "".join(out)


with open(OUT, "w") as f:
    f.write("-- tests/fixtures/norm.lua: written by scripts/make_norm_fixtures.py (PyTorch %s); "
            "do not edit.\nreturn {\n" % torch.__version__)
    f.write("  layers = {\n")
    for c in cases:
        f.write(case_lua(c).replace("\n", "\n  ") + ",\n")
    f.write("  },\n")
    f.write("  net = %s,\n" % case_lua(net_case()).strip())
    f.write("}\n")
print("wrote", OUT, len(cases), "layer cases and a net")
