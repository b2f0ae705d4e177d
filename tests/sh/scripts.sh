#!/usr/bin/env bash
# scripts.sh — the example scripts that run in a second: xor.lua prints no stray module and is
# reproducible per seed; regression.lua reports progress off a terminal and plots its fits.
#   bash scripts.sh <build dir> <source dir>
set -u
BUILD=${1:?usage: scripts.sh <build dir> <source dir>}
SRC=${2:?usage: scripts.sh <build dir> <source dir>}
L="$BUILD/lunet"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$SRC" || exit 1
failed=0
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# xor.lua: the first line is the perceptron's result (no "Linear(...)" printed before seeding),
# and a seed gives the same output twice
"$L" scripts/xor.lua 3 >"$T/a" 2>"$T/a.err" || bad "xor.lua exits non-zero: $(cat "$T/a.err")"
"$L" scripts/xor.lua 3 >"$T/b" 2>/dev/null
head -1 "$T/a" | grep -q '^perceptron Linear(2, 1) *accuracy' || bad "xor.lua line 1: $(head -1 "$T/a")"
cmp -s "$T/a" "$T/b" || bad "xor.lua 3 prints different results on two runs"
grep -q 'MLP reaches 1.00' "$T/a" || bad "xor.lua: the MLP does not reach 1.00: $(tail -1 "$T/a")"

# regression.lua: one plain progress line per width on stderr (not a terminal), the plot
TERM=dumb "$L" scripts/regression.lua 30 "$T/r.svg" >"$T/r.out" 2>"$T/r.err" ||
  bad "regression.lua exits non-zero: $(cat "$T/r.err")"
[ "$(grep -c '^width [0-9]*: 100%|#*| 30/30 \[.* step/s, mse=' "$T/r.err")" = 7 ] ||
  bad "regression.lua progress lines: $(cat "$T/r.err")"
grep -q "Fits plotted to $T/r.svg" "$T/r.out" || bad "regression.lua output: $(cat "$T/r.out")"
[ "$(grep -c '<polyline' "$T/r.svg")" = 3 ] || bad "regression.svg: expected 3 fitted curves"
[ "$(grep -c '<circle cx=.* r="3"/>' "$T/r.svg")" -ge 20 ] || bad "regression.svg: expected the data points"
grep -q '>x</text>' "$T/r.svg" || bad "regression.svg: no x axis label"

# attention.lua: causal attention forward and backward against its naive loops (it exits
# non-zero past its tolerance); four difference rows, the last line its verdict
"$L" scripts/attention.lua 9 4 1 >"$T/att" 2>"$T/att.err" || bad "attention.lua: $(cat "$T/att" "$T/att.err")"
[ "$(grep -c 'max abs diff' "$T/att")" = 4 ] || bad "attention.lua output: $(cat "$T/att")"
grep -q '^attention T=9 d=4: Lunet matches the loops' "$T/att" || bad "attention.lua verdict: $(tail -1 "$T/att")"

[ "$failed" = 0 ] && echo "scripts.sh: all checks passed"
exit "$failed"
