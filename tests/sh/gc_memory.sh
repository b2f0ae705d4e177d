#!/usr/bin/env bash
# gc_memory.sh — the collector knows about tensor storage: 100,000 temporary 1 MB tensors,
# with no collectgarbage() call, keep the peak resident set (VmHWM) under 1 GiB. Without
# lunet_gcstep the Lua heap (a few bytes per box) would let gigabytes of storage pile up.
#   bash gc_memory.sh <build dir> <source dir>
set -u
BUILD=${1:?usage: gc_memory.sh <build dir> <source dir>}
if [ ! -r /proc/self/status ]; then
  echo "skipped: /proc/self/status is not readable here"
  exit 0
fi
out=$("$BUILD/lunet" -e '
local lunet = require "lunet"
for _ = 1, 100000 do
  local t = lunet.zeros(262144)   -- 1 MiB of float32, written (memset), then dropped
end
for line in io.lines("/proc/self/status") do
  local kb = line:match("^VmHWM:%s*(%d+)%s*kB")
  if kb then print(kb) end
end' 2>&1)
rc=$?
if [ $rc -ne 0 ]; then
  echo "FAIL: lunet exited with $rc: $out" >&2
  exit 1
fi
if ! [[ "$out" =~ ^[0-9]+$ ]]; then
  echo "FAIL: no VmHWM in the output: $out" >&2
  exit 1
fi
limit=$((1024 * 1024)) # kB
echo "peak RSS ${out} kB (limit ${limit} kB)"
if [ "$out" -ge "$limit" ]; then
  echo "FAIL: peak RSS ${out} kB is not under 1 GiB" >&2
  exit 1
fi
echo "ok"
