#!/usr/bin/env bash
# luarocks.sh BUILD SRC — the rockspec builds and installs as the Lua world expects:
#   luarocks --lua-version 5.4 --tree T make lunet-scm-1.rockspec   (a portable build, CMake)
# on a copy of the source, then the stock lua5.4, with only `luarocks path`'s LUA_PATH and
# LUA_CPATH, requires "lunet" and its submodules from T, computes, reads the shipped data set
# and finds help's text. Skips (exit 0, saying so) when luarocks or lua5.4 is not installed;
# ./build.sh installs both, so CI runs it. Not in the sanitizer build (it builds its own copy).
set -euo pipefail
src=$2
if ! command -v luarocks > /dev/null || ! command -v lua5.4 > /dev/null; then
  echo "luarocks: SKIPPED: luarocks or lua5.4 is not installed (./build.sh installs them)"
  exit 0
fi
if [ "${LUNET_SANITIZE:-0}" = 1 ]; then
  echo "luarocks: SKIPPED in the sanitizer build (the normal build runs it)"
  exit 0
fi
tmp=$(mktemp -d /tmp/lunet-rock.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# the working tree's files (tracked and new, not ignored build dirs), so luarocks' build dir
# (build.luarocks) lands in the copy
mkdir "$tmp/src"
if git -C "$src" rev-parse --git-dir > /dev/null 2>&1; then
  (cd "$src" && git ls-files -z --cached --others --exclude-standard |
     xargs -0 -I{} sh -c '[ -f "{}" ] && echo "{}"' | tar -cf - -T -) | tar -xf - -C "$tmp/src"
else  # a tarball: everything but build directories
  (cd "$src" && tar -cf - --exclude='./build' --exclude='./build-*' .) | tar -xf - -C "$tmp/src"
fi
[ -f "$tmp/src/lunet-scm-1.rockspec" ] || { echo "luarocks: no rockspec in the copy" >&2; exit 1; }

export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
(cd "$tmp/src" && luarocks --lua-version 5.4 --tree "$tmp/tree" make lunet-scm-1.rockspec) \
  > "$tmp/make.log" 2>&1 || { tail -40 "$tmp/make.log" >&2; echo "luarocks: make failed" >&2; exit 1; }
tail -3 "$tmp/make.log"
grep -q "^LUNET_NATIVE:BOOL=OFF" "$tmp/src/build.luarocks/CMakeCache.txt" ||
  { echo "luarocks: the build was not configured with LUNET_NATIVE=OFF" >&2; exit 1; }

eval "$(luarocks --lua-version 5.4 --tree "$tmp/tree" path)"
rm -rf "$tmp/src"   # nothing may come from the source tree any more
out=$(cd "$tmp" && lua5.4 -e '
  local lunet = require "lunet"
  local t = lunet.ones(2, 3) * 2
  assert(t:sum():item() == 12, "sum")
  local nn, optim = lunet.nn, lunet.optim
  local m = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
  assert(m:num_parameters() == 8, "parameters")
  assert(type(optim.SGD) == "function" or type(optim.SGD) == "table", "optim")
  local X, y = require("lunet.data").load_digits()
  assert(X:size(1) == 1797 and X:size(2) == 64, "digits")
  local h = require "lunet.help"
  assert(h.doc("lunet.zeros"), "help text")
  print("from " .. package.searchpath("lunet", package.cpath))
  print("ok " .. lunet._VERSION)')
echo "$out"
case "$out" in *"$tmp/tree/"*"ok "*) ;; *) echo "luarocks: lunet did not load from the tree" >&2; exit 1 ;; esac
echo "luarocks: ok"
