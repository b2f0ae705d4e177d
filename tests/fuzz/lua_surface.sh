#!/usr/bin/env bash
# tests/fuzz/lua_surface.sh LUNET SECONDS [lua_surface.lua options...] — runs the Lua-surface
# fuzzer (lua_surface.lua beside this file) with the given lunet runner for SECONDS, in a fresh
# scratch directory (the fuzzed file functions write there), with a trace of the calls. On a
# crash it prints the last calls and keeps the directory: its trace.lua replays the calls since
# the last pool (`lunet trace.lua`). LUNET_SANITIZE=1 (the ASan build) makes huge allocations
# fail instead of being reserved, as the fuzzer asks for terabytes on purpose; elsewhere a
# virtual-memory limit does the same.
set -uo pipefail
lunet=$1 secs=$2
shift 2
case $lunet in /*) ;; *) lunet=$PWD/$lunet ;; esac   # it runs from the scratch dir
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/lunet-luafuzz.XXXXXX)
cd "$dir" || exit 1
if [ "${LUNET_SANITIZE:-0}" = 1 ]; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1:max_allocation_size_mb=1024"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
else
  ulimit -v $((8 << 20))   # KiB: 8 GiB of address space
fi
"$lunet" "$here/lua_surface.lua" --seconds "$secs" --dir "$dir" --trace "$dir/trace.lua" "$@"
status=$?
if [ $status -ne 0 ]; then
  echo "lua_surface: FAILED (status $status); last calls (the last one crashed):" >&2
  tail -5 "$dir/trace.lua" >&2
  echo "lua_surface: replay with: $lunet $dir/trace.lua" >&2
  exit $status
fi
rm -rf "$dir"
