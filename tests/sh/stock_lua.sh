#!/usr/bin/env bash
# stock_lua.sh — the module built as lunet.so loads into the stock lua5.4 interpreter from
# the build tree, and its pure-Lua submodules resolve through LUA_PATH.
#   bash stock_lua.sh <build dir> <source dir>
set -u
BUILD=${1:?usage: stock_lua.sh <build dir> <source dir>}
SRC=${2:?usage: stock_lua.sh <build dir> <source dir>}
if [ "${LUNET_SANITIZE:-0}" = 1 ]; then
  echo "skipped: a sanitizer build of lunet.so cannot be loaded into stock lua5.4"
  exit 0
fi
if ! command -v lua5.4 >/dev/null 2>&1; then
  echo "FAIL: lua5.4 is not installed" >&2
  exit 1
fi
unset LUA_INIT LUA_INIT_5_4
run() {
  LUA_CPATH="$BUILD/?.so;;" LUA_PATH="$SRC/bindings/lua/?.lua;;" lua5.4 -e "$1" 2>&1
}
failed=0
want=$'tensor([[1., 1.],\n        [1., 1.]])'
got=$(run 'print(require "lunet".ones(2,2))')
if [ "$got" != "$want" ]; then
  echo "FAIL: print(ones(2,2)) gave: $got" >&2
  failed=1
fi
got=$(run 'local l = require "lunet"; local x = l.tensor({1, 2, 3}, {requires_grad = true})
;(x * x):sum():backward(); print(x.grad:totable()[3])')
if [ "$got" != "6.0" ]; then
  echo "FAIL: autograd under stock lua gave: $got" >&2
  failed=1
fi
if [ $failed -ne 0 ]; then exit 1; fi
echo "ok"
