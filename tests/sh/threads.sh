#!/usr/bin/env bash
# threads.sh — the default thread count is the CPUs this process may use: one under
# `taskset -c 0`, shared among the MPI ranks on the host, LUNET_NUM_THREADS over all of it,
# and every limit is NN_THREADS_MAX.
#   bash threads.sh <build dir> <source dir>
set -u
BUILD=${1:?usage: threads.sh <build dir> <source dir>}
L="$BUILD/lunet"
unset LUNET_INIT LUA_INIT LUA_INIT_5_4 LUNET_NUM_THREADS OMPI_COMM_WORLD_LOCAL_SIZE MPI_LOCALNRANKS
[ -x "$L" ] || { echo "threads.sh: no runner at $L" >&2; exit 1; }

passed=0
failed=0
# expect NAME WANT command...: stdout must be exactly WANT, status 0
expect() {
  local name=$1 want=$2 out rc
  shift 2
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" = 0 ] && [ "$out" = "$want" ]; then passed=$((passed + 1))
  else failed=$((failed + 1)); echo "FAIL: $name: status $rc, output [$out], wanted [$want]" >&2; fi
}
GET='print(require("lunet").get_num_threads())'

if command -v taskset >/dev/null 2>&1; then
  expect "taskset -c 0: one thread" 1 taskset -c 0 "$L" -e "$GET"
  expect "LUNET_NUM_THREADS overrides the affinity" 3 env LUNET_NUM_THREADS=3 taskset -c 0 "$L" -e "$GET"
  if [ "$(nproc --all)" -ge 2 ]; then
    expect "taskset -c 0,1: two threads" 2 taskset -c 0,1 "$L" -e "$GET"
    expect "two Open MPI ranks on two CPUs: one thread each" 1 \
      env OMPI_COMM_WORLD_LOCAL_SIZE=2 taskset -c 0,1 "$L" -e "$GET"
    expect "two MPICH ranks on two CPUs: one thread each" 1 \
      env MPI_LOCALNRANKS=2 taskset -c 0,1 "$L" -e "$GET"
  fi
else
  echo "threads.sh: taskset (util-linux) not found: the affinity checks are skipped"
fi
expect "the default is the CPUs nproc counts (affinity), or fewer (a CPU quota)" ok \
  "$L" -e "local n = require('lunet').get_num_threads(); print((n >= 1 and n <= $(nproc)) and 'ok' or n)"
expect "LUNET_NUM_THREADS is held to NN_THREADS_MAX" 64 env LUNET_NUM_THREADS=100000 "$L" -e "$GET"
expect "set_num_threads names the limit" "set_num_threads: expected 1..64 threads (NN_THREADS_MAX), got 65" \
  "$L" -e 'print(select(2, pcall(require("lunet").set_num_threads, 65)))'

echo "threads.sh: $passed passed, $failed failed"
[ "$failed" = 0 ]
