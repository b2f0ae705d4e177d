#!/usr/bin/env bash
# cli.sh BUILD SRC — the runner's help and -e: `lunet -h` / `--help` print the options and the
# REPL's features on stdout and exit 0; a bad option prints them on stderr and exits 1; -e runs
# with the REPL's globals (lunet, help), and help(x) there prints docs/API.md's entry.
set -u
L="$1/lunet"
unset LUNET_INIT LUA_INIT LUA_INIT_5_4
export LUNET_QUIET=1
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }

for opt in -h --help; do
  out=$("$L" "$opt" 2>/dev/null); rc=$?
  [ $rc = 0 ] || bad "$opt: exit status $rc"
  [[ "$out" == *"usage: lunet [options] [script [args]]"* ]] || bad "$opt: no usage line: $out"
  [[ "$out" == *"-h        show this help"* ]] || bad "$opt: -h not listed"
  [[ "$out" == *"help(x) or ?x"* ]] || bad "$opt: the REPL's help not mentioned"
done
# -h stops there: nothing else runs
out=$("$L" -h -e 'print("ran")' 2>&1)
[[ "$out" != *ran* ]] || bad "-h ran the -e that followed"

err=$("$L" -x 2>&1 >/dev/null); rc=$?
[ $rc = 1 ] || bad "-x: exit status $rc, wanted 1"
[[ "$err" == *"unrecognized option '-x'"*"usage: lunet"* ]] || bad "-x: stderr: $err"
err=$("$L" --hel 2>&1 >/dev/null); rc=$?
[ $rc = 1 ] || bad "--hel: exit status $rc, wanted 1"

out=$("$L" -e 'print(lunet.ones(2, 2):sum():item())'); rc=$?
[ $rc = 0 ] && [ "$out" = "4.0" ] || bad "-e with the lunet global: status $rc, output [$out]"
out=$("$L" -e 'help(lunet.nn.Linear)')
[[ "$out" == *"Linear(in, out [, {bias = true}])"*"docs/API.md"* ]] || bad "-e help(): $out"
out=$("$L" -e 'help("optim.Adam")')
[[ "$out" == *"Adam(params, {lr = 1e-3"* ]] || bad "-e help(\"optim.Adam\"): $out"
# a global of the user's own (from LUNET_INIT) is kept
out=$(LUNET_INIT='lunet = 5' "$L" -e 'print(lunet)')
[ "$out" = 5 ] || bad "-e overwrote the user's lunet: $out"

[ $fail = 0 ] && echo "cli: ok"
exit $fail
