"""Lua literals for the fixture generators (scripts/make_*_fixtures.py): tensors as
{shape = {...}, data = {...}} in float64 (repr keeps every bit), and Python values as Lua values
(None is false, as Lua's option tables cannot hold nil)."""
import re

import torch

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def tensor(t):
    t = t.detach()
    shape = ", ".join(str(s) for s in t.shape)
    data = ", ".join(repr(float(v)) for v in t.reshape(-1).tolist())
    return "{shape = {%s}, data = {%s}}" % (shape, data)


def _key(k):
    return k if _IDENT.match(k) else '["%s"]' % k


def lua_value(v):
    if v is None:
        return "false"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"%s"' % v
    if isinstance(v, torch.Tensor):
        return tensor(v)
    if isinstance(v, (tuple, list)):
        return "{" + ", ".join(lua_value(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join("%s = %s" % (_key(k), lua_value(x)) for k, x in v.items()) + "}"
    raise TypeError(v)
