#!/usr/bin/env bash
# runner.sh — the `lunet` runner without a terminal: options, the arg table, stdin,
# LUNET_INIT, exit statuses, and (valgrind installed, no sanitizer build) no leaks.
#   bash runner.sh <build dir> <source dir>
set -u
BUILD=${1:?usage: runner.sh <build dir> <source dir>}
SRC=${2:-}
L="$BUILD/lunet"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
unset LUNET_INIT LUA_INIT LUA_INIT_5_4

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# check NAME EXPECTED-STATUS EXPECTED-STDOUT-SUBSTRING [EXPECTED-STDERR-SUBSTRING] -- command...
# Runs the command with stdin from $IN (default /dev/null), compares status and output.
IN=/dev/null
check() {
  local name=$1 want_rc=$2 want_out=$3 want_err=$4
  shift 5
  local out err rc
  out=$("$@" <"$IN" 2>"$T/stderr")
  rc=$?
  err=$(cat "$T/stderr")
  if [ "$rc" != "$want_rc" ]; then
    bad "$name: exit status $rc, wanted $want_rc (stdout: $out) (stderr: $err)"
  elif [ -n "$want_out" ] && [[ "$out" != *"$want_out"* ]]; then
    bad "$name: stdout lacks '$want_out': $out"
  elif [ -n "$want_err" ] && [[ "$err" != *"$want_err"* ]]; then
    bad "$name: stderr lacks '$want_err': $err"
  else
    ok
  fi
}
# equal NAME EXPECTED-STDOUT -- command...: stdout must be exactly this, status 0
equal() {
  local name=$1 want=$2
  shift 3
  local out rc
  out=$("$@" <"$IN" 2>"$T/stderr")
  rc=$?
  if [ "$rc" != 0 ] || [ "$out" != "$want" ]; then
    bad "$name: status $rc, stdout [$out], wanted [$want] (stderr: $(cat "$T/stderr"))"
  else
    ok
  fi
}

[ -x "$L" ] || { echo "runner.sh: no runner at $L" >&2; exit 1; }

# ---- -e, the arg table ----------------------------------------------------
equal "-e" "2" -- "$L" -e 'print(1+1)'
equal "-e twice, in order" $'a\nb' -- "$L" -e 'print("a")' -e 'print("b")'
equal "-e concatenated" "3" -- "$L" '-eprint(3)'

cat >"$T/args.lua" <<'EOF'
print(#arg, arg[0], arg[1], arg[2], arg[-1], arg[-2] ~= nil, arg[-3], select('#', ...), ...)
EOF
equal "script args" $'2\t'"$T/args.lua"$'\ta\tb c\t-W\ttrue\tnil\t2\ta\tb c' -- \
  "$L" -W "$T/args.lua" a "b c"
equal "no script: arg[0] is the interpreter" "$L"$'\t-e' -- "$L" -e 'print(arg[0], arg[1])'
equal "-- stops options" $'1\t'"$T/args.lua"$'\t-v\tnil\t--\ttrue\tnil\t1\t-v' -- \
  "$L" -- "$T/args.lua" -v
equal "options after the script go to it" $'2\t'"$T/args.lua"$'\t-e\tx\t-E\ttrue\tnil\t2\t-e\tx' -- \
  "$L" -E "$T/args.lua" -e x
equal "script return values ignored, status 0" "" -- "$L" -e 'return 1, 2'

# ---- stdin ------------------------------------------------------------------
printf 'print("from stdin", ...)\n' >"$T/stdin.lua"
IN="$T/stdin.lua" equal "- reads stdin" $'from stdin\tp\tq' -- "$L" - p q
printf 'print(3*3)\n' >"$T/nine.lua"
IN="$T/nine.lua" equal "piped stdin, no args, runs it" "9" -- "$L"
printf 'error("piped boom")\n' >"$T/fail.lua"
IN="$T/fail.lua" check "failing stdin exits 1" 1 "" "piped boom" -- "$L"
printf 'x = 5\nx\nfunction f(a)\nreturn a * 2\nend\nf(21)\nerror("oops")\n1+2\n' >"$T/repl.txt"
IN="$T/repl.txt" check "-i on a pipe: a REPL" 0 $'5\n> >> >> > 42\n> ' "oops" -- "$L" -i
IN="$T/repl.txt" check "-i: the REPL goes on after an error" 0 $'> 3\n' "" -- "$L" -i
printf 'type(lunet), lunet == require "lunet"\n' >"$T/g.txt"
IN="$T/g.txt" check "-i: lunet is a global" 0 $'table\ttrue' "" -- "$L" -i
printf 'for i = 1,\n' >"$T/cut.txt"
IN="$T/cut.txt" check "-i: input ends inside a chunk" 0 "" "<eof>" -- "$L" -i
IN=/dev/null

# ---- -v ---------------------------------------------------------------------
check "-v" 0 "Lunet" "" -- "$L" -v
check "-v names OpenBLAS" 0 "OpenBLAS" "" -- "$L" -v
check "-v names Lua 5.4" 0 "Lua 5.4" "" -- "$L" -v
check "-v shows threads" 0 "thread" "" -- "$L" -v
# the runner stops OpenBLAS's own idle workers at start (its products run on one thread, the
# context's workers start at once); a product still gives the right answer after it
check "OpenBLAS on one thread" 0 "1	19.0	43.0" "" -- "$L" -e \
  'local l = require "lunet"; local c = l.tensor({{1, 2}, {3, 4}}):matmul(l.tensor({{5}, {7}})); print(l.blas_info().threads, c[1][1], c[2][1])'
printf 'print("ran-stdin")\n' >"$T/ran.lua"
out=$("$L" -v <"$T/ran.lua" 2>&1)
[[ "$out" != *ran-stdin* ]] && ok || bad "-v alone ran stdin"
IN="$T/ran.lua" check "-e alone does not run stdin" 0 "" "" -- "$L" -e 'x = 1'
out=$("$L" -e 'x = 1' <"$T/ran.lua" 2>&1)
[[ "$out" != *ran-stdin* ]] && ok || bad "-e alone ran stdin"

# ---- errors and exit statuses ----------------------------------------------
printf 'x = = 1\n' >"$T/syntax.lua"
check "syntax error" 1 "" "lunet: $T/syntax.lua:1: unexpected symbol near '='" -- "$L" "$T/syntax.lua"
check "runtime error" 1 "" "lunet: (command line):1: boom" -- "$L" -e 'error("boom")'
check "traceback" 1 "" "stack traceback:" -- "$L" -e 'local function g() error("deep") end g()'
check "error object with __tostring" 1 "" "lunet: custom" -- \
  "$L" -e 'error(setmetatable({}, {__tostring = function() return "custom" end}))'
check "non-string error object" 1 "" "(error object is a table value)" -- "$L" -e 'error({})'
check "an error stops later options" 1 "" "first" -- "$L" -e 'error("first")' -e 'print("second")'
out=$("$L" -e 'error("first")' -e 'print("second")' 2>/dev/null)
[ -z "$out" ] && ok || bad "an error stops later options: ran $out"
check "missing script" 1 "" "cannot open $T/none.lua" -- "$L" "$T/none.lua"
check "os.exit status" 4 "" "" -- "$L" -e 'os.exit(4)'
check "os.exit(false)" 1 "" "" -- "$L" -e 'os.exit(false)'
check "bad option" 1 "" "unrecognized option '-x'" -- "$L" -x
check "usage" 1 "" "usage: lunet" -- "$L" -x
check "-e needs an argument" 1 "" "'-e' needs argument" -- "$L" -e
check "-l needs an argument" 1 "" "'-l' needs argument" -- "$L" -l

# ---- -W -----------------------------------------------------------------------
check "-W turns warnings on" 0 "" "Lua warning: careful" -- "$L" -W -e 'warn("careful")'
check "warnings are off by default" 0 "" "" -- "$L" -e 'warn("careful")'
"$L" -e 'warn("careful")' 2>&1 | grep -q careful && bad "warning shown without -W" || ok

# ---- LUNET_INIT and -E ------------------------------------------------------
equal "LUNET_INIT code" "7" -- env LUNET_INIT='init_var = 7' "$L" -e 'print(init_var)'
printf 'init_file_var = "from file"\n' >"$T/init.lua"
equal "LUNET_INIT @file" "from file" -- env LUNET_INIT="@$T/init.lua" "$L" -e 'print(init_file_var)'
equal "LUNET_INIT runs before -e" "8" -- env LUNET_INIT='v = 7' "$L" -e 'print(v + 1)'
check "LUNET_INIT error" 1 "" "LUNET_INIT:1: init failed" -- env LUNET_INIT='error("init failed")' "$L" -e 'print(1)'
equal "-E ignores LUNET_INIT" "nil" -- env LUNET_INIT='init_var = 7' "$L" -E -e 'print(init_var)'
equal "LUA_PATH is used" "true" -- env LUA_PATH="$T/?.lua" P="$T" "$L" -e 'print(package.path:find(os.getenv("P"), 1, true) ~= nil)'
equal "-E ignores LUA_PATH" "false" -- env LUA_PATH="$T/?.lua" P="$T" "$L" -E -e 'print(package.path:find(os.getenv("P"), 1, true) ~= nil)'

# ---- -l and modules ---------------------------------------------------------
printf 'return {v = 11}\n' >"$T/mymod.lua"
equal "-l mod" "11" -- env LUA_PATH="$T/?.lua;;" "$L" -l mymod -e 'print(mymod.v)'
equal "-lmod" "11" -- env LUA_PATH="$T/?.lua;;" "$L" -lmymod -e 'print(mymod.v)'
equal "-l g=mod" $'11\tnil' -- env LUA_PATH="$T/?.lua;;" "$L" -l g=mymod -e 'print(g.v, mymod)'
check "-l missing module" 1 "" "module 'no_such_mod' not found" -- "$L" -l no_such_mod
equal "-l lunet" "table" -- "$L" -l lunet -e 'print(type(lunet))'
equal "lunet is preloaded, one copy" $'true\ttrue' -- \
  "$L" -e 'print(package.preload.lunet ~= nil, require("lunet") == require("lunet"))'
echo 'print(rawget(_G, "lunet"), rawget(_G, "help"))' > "$T/globals.lua"
equal "lunet is not a global in scripts" $'nil\tnil' -- "$L" "$T/globals.lua"
equal "-e has the REPL's globals lunet and help" $'table\tfunction' -- \
  "$L" -e 'print(type(rawget(_G, "lunet")), type(rawget(_G, "help")))'
equal "lunet.config" $'table\tstring\tstring' -- \
  "$L" -e 'local c = require "lunet.config"; print(type(c), type(c.data_dir), type(c.lua_dir))'
if [ -n "$SRC" ] && [ -d "$SRC/bindings/lua" ]; then
  equal "package.path starts at the source tree" "true" -- env P="$SRC/bindings/lua/?.lua;" \
    "$L" -e 'local p = os.getenv("P"); print(package.path:sub(1, #p) == p)'
  equal "lunet.config.lua_dir" "$SRC/bindings/lua" -- "$L" -e 'print(require("lunet.config").lua_dir)'
  equal "lunet.config.data_dir" "$SRC/data" -- "$L" -e 'print(require("lunet.config").data_dir)'
fi

# ---- Ctrl-C (SIGINT) outside the REPL ends the script -----------------------
# One SIGINT, then up to 30 s for the process to end: a second signal while it is already
# stopping (a sanitizer build on a loaded machine is slow to report) would end it with status
# 130 and fail a correct runner. Only then SIGINT again, then SIGKILL, and the check fails.
"$L" -e 'io.write("ready\n") io.flush() while true do end' >"$T/int.out" 2>"$T/int.err" &
pid=$!
gone() { ! kill -0 "$pid" 2>/dev/null; }
# (signalled before its handler is set, the runner would die of the signal: wait for the loop)
for _ in $(seq 300); do grep -q ready "$T/int.out" 2>/dev/null && break; gone && break; sleep 0.1; done
kill -INT "$pid" 2>/dev/null
waited=0
for _ in $(seq 300); do gone && break; sleep 0.1; done
gone || { waited=1; kill -INT "$pid" 2>/dev/null; sleep 5; }
gone || { waited=2; kill -KILL "$pid" 2>/dev/null; }
wait "$pid"
rc=$?
if [ "$waited" = 0 ] && [ "$rc" = 1 ] && grep -q "interrupted!" "$T/int.err"; then ok
else bad "SIGINT did not stop a script cleanly within 30 s (status $rc, escalations $waited: $(cat "$T/int.err"))"; fi

# ---- memory: valgrind finds no leaks ----------------------------------------
if [ -z "${LUNET_SANITIZE:-}" ] && command -v valgrind >/dev/null 2>&1; then
  VG=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=3)
  check "valgrind -e" 0 "" "" -- "${VG[@]}" "$L" -e 'local x = 1'
  check "valgrind script with args" 0 "" "" -- "${VG[@]}" "$L" "$T/args.lua" a b
  check "valgrind error path" 1 "" "boom" -- "${VG[@]}" "$L" -e 'error("boom")'
  check "valgrind -v" 0 "Lunet" "" -- "${VG[@]}" "$L" -v
  IN="$T/repl.txt" check "valgrind REPL on stdin" 0 "42" "oops" -- "${VG[@]}" "$L" -i
  IN="$T/cut.txt" check "valgrind REPL cut short" 0 "" "<eof>" -- "${VG[@]}" "$L" -i
  printf 'x = lunet.ones(2, 2)\nx + 1\nx = nil\ncollectgarbage()\n' >"$T/tensor.txt"
  IN="$T/tensor.txt" check "valgrind REPL with tensors" 0 "tensor(" "" -- "${VG[@]}" "$L" -i
  IN="$T/stdin.lua" check "valgrind stdin script" 0 "from stdin" "" -- "${VG[@]}" "$L" -
  IN=/dev/null
else
  echo "runner.sh: valgrind checks skipped (sanitizer build or no valgrind)"
fi

echo "runner.sh: $passed passed, $failed failed"
[ "$failed" = 0 ]
