#!/usr/bin/env bash
# tests/mpi/run.sh — lunet.distributed under `mpirun -np 2`: collectives, DDP = one process on
# the full batch, shards, a failing rank ends the job (no hang), the thread rule; and a 1-rank
# world through MPI's singleton start. Every mpirun runs under a timeout, so CI never hangs.
#   bash run.sh <build dir> <source dir>
set -u
BUILD=${1:?usage: run.sh <build dir> <source dir>}
SRC=${2:?usage: run.sh <build dir> <source dir>}
L="$BUILD/lunet"
unset LUNET_INIT LUA_INIT LUA_INIT_5_4 LUNET_NUM_THREADS OMPI_COMM_WORLD_LOCAL_SIZE MPI_LOCALNRANKS
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1   # CI runs as root
export OMPI_MCA_rmaps_base_oversubscribe=1
MPIRUN=${MPIEXEC:-mpirun}
T=120
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

for t in collectives ddp; do
  out=$(timeout $T "$MPIRUN" -np 2 "$L" "$SRC/tests/mpi/$t.lua" 2>&1); rc=$?
  if [ $rc = 0 ] && grep -q "$t.lua: 0 failures" <<<"$out"; then ok
  else bad "$t.lua: status $rc"; echo "$out" >&2; fi
done

# a rank that raises: the job ends with its message and a failure status, well before the timeout
prog='local d = require("lunet").distributed; d.init()
if d.rank() == 2 then error("rank two fails on purpose") end
d.barrier(); print("the barrier passed")'
out=$(timeout 60 "$MPIRUN" -np 2 "$L" -e "$prog" 2>&1); rc=$?
if [ $rc != 0 ] && [ $rc != 124 ] && grep -q "rank two fails on purpose" <<<"$out" &&
   ! grep -q "the barrier passed" <<<"$out"; then ok
else bad "a failing rank: status $rc (124: it hung)"; echo "$out" >&2; fi

# the thread rule: 2 ranks on 2 cores -> 1 thread each, from the launcher's count and from
# MPI_COMM_TYPE_SHARED when the launcher does not say (its variable removed)
GET='local d = require("lunet").distributed; d.init(); print(require("lunet").get_num_threads())'
if command -v taskset >/dev/null 2>&1 && [ "$(nproc --all)" -ge 2 ]; then
  out=$(taskset -c 0,1 timeout 60 "$MPIRUN" -np 2 --bind-to none "$L" -e "$GET" 2>&1)
  [ "$out" = $'1\n1' ] && ok || bad "2 ranks on 2 cores: [$out], wanted 1 and 1"
  out=$(taskset -c 0,1 timeout 60 "$MPIRUN" -np 2 --bind-to none env -u OMPI_COMM_WORLD_LOCAL_SIZE \
        "$L" -e "$GET" 2>&1)
  [ "$out" = $'1\n1' ] && ok || bad "2 ranks on 2 cores, counted by MPI: [$out], wanted 1 and 1"
  out=$(taskset -c 0 timeout 60 "$MPIRUN" -np 1 --bind-to none "$L" -e "$GET" 2>&1)
  [ "$out" = 1 ] && ok || bad "taskset -c 0: [$out], wanted 1"
fi

# determinism: the same seed on the same ranks and threads gives the same bits, run after run
# (DDP's buckets are reduced in one order whatever finishes first)
DET='local lunet = require "lunet"; local nn, optim = lunet.nn, lunet.optim
local d = lunet.distributed.init(); lunet.manual_seed(5)
local X, y = lunet.randn(256, 16), lunet.randint(1, 5, {256})
local m = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
local ddp = d.DistributedDataParallel(m, {bucket_mb = 0.001})
local opt = optim.Adam(m:parameters(), {lr = 1e-2})
for e = 1, 3 do
  for xb, yb in d.shard(X, y, {batch_size = 32, shuffle = true, random_state = e}) do
    opt:zero_grad(); nn.cross_entropy(ddp(xb), yb):backward(); opt:step()
  end
end
local s = {}
for i, p in ipairs(m:parameters()) do s[i] = ("%a"):format(p:double():sum():item()) end
print(d.rank(), table.concat(s, " "))'
run1=$(timeout 60 "$MPIRUN" -np 2 "$L" -e "$DET" 2>&1 | sort)
run2=$(timeout 60 "$MPIRUN" -np 2 "$L" -e "$DET" 2>&1 | sort)
if [ "$(wc -l <<<"$run1")" = 2 ] && [ "$run1" = "$run2" ] &&
   [ "$(cut -f2 <<<"$run1" | sort -u | wc -l)" = 1 ]; then ok
else bad "DDP is not deterministic or the ranks differ: [$run1] then [$run2]"; fi

# a 1-rank world: MPI's singleton start (LUNET_MPI_SINGLETON=1), and without MPI at all
ONE='local d = require("lunet").distributed; d.init()
local t = d.all_reduce(require("lunet").tensor({2, 3}), "mean")
print(d.rank(), d.size(), t[1], t[2], #d.all_gather(t))'
out=$(LUNET_MPI_SINGLETON=1 timeout 60 "$L" -e "$ONE" 2>&1)
[ "$out" = $'1\t1\t2.0\t3.0\t1' ] && ok || bad "singleton MPI world: [$out]"
out=$(timeout 60 "$L" -e "$ONE" 2>&1)
[ "$out" = $'1\t1\t2.0\t3.0\t1' ] && ok || bad "a world without MPI: [$out]"

echo "mpi/run.sh: $passed passed, $failed failed"
[ "$failed" = 0 ]
