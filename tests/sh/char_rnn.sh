#!/usr/bin/env bash
# char_rnn.sh BUILD SRC — scripts/char_rnn.lua end to end on a small slice of Tiny Shakespeare:
# training prints its batches, the validation loss falls below the uniform guess and the best
# checkpoint is kept; --resume continues from its iteration; sampling primes with --primetext,
# writes --length characters and repeats itself for a seed; --help and bad options behave.
set -u
L="$1/lunet"
SRC="$2"
export LUNET_QUIET=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$SRC" || exit 1
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }

zcat data/tinyshakespeare.txt.gz | head -c 40000 >"$T/text.txt"
SMALL=(--data "$T/text.txt" --rnn_size 32 --batch_size 10 --seq_length 20 --eval_val_every 50
       --checkpoint "$T/cp.safetensors" --quiet true --threads 1)

"$L" scripts/char_rnn.lua "${SMALL[@]}" --max_epochs 1 >"$T/train" 2>"$T/train.err" ||
  bad "train exits non-zero: $(cat "$T/train.err")"
grep -q '^40000 characters, vocabulary [0-9]*; 190 training and 10 validation batches of 10 × 20$' "$T/train" ||
  bad "train: no data line: $(head -3 "$T/train")"
[ -s "$T/cp.safetensors" ] || bad "train: no checkpoint"
# the uniform guess over the vocabulary is log(V) ≈ 4 nats; one epoch learns the letter frequencies
best=$(sed -n 's/.*best validation loss \([0-9.]*\), kept in.*/\1/p' "$T/train")
awk -v b="${best:-9}" 'BEGIN { exit !(b > 0.5 && b < 3.4) }' || bad "train: best validation loss '$best'"
[ "$(grep -c '^iteration [0-9]* (epoch [0-9.]*): train loss [0-9.]*, validation loss [0-9.]*' "$T/train" 2>/dev/null ||
    grep -c '^iteration ' "$T/train.err")" -ge 3 ] || bad "train: expected 3 validation lines: $(cat "$T/train" "$T/train.err")"

# resuming continues from the checkpoint's iteration
"$L" scripts/char_rnn.lua "${SMALL[@]}" --max_epochs 1.5 --resume "$T/cp.safetensors" >"$T/resume" 2>"$T/resume.err" ||
  bad "resume exits non-zero: $(cat "$T/resume.err")"
grep -q '^resumed from .*: iteration [0-9]*, validation loss [0-9.]*$' "$T/resume" ||
  bad "resume: no 'resumed from' line: $(head -3 "$T/resume")"

# sampling: the prime text first, then --length characters; a seed repeats itself
S=(sample --checkpoint "$T/cp.safetensors" --length 120 --primetext "ROMEO:" --temperature 0.8)
"$L" scripts/char_rnn.lua "${S[@]}" --seed 7 >"$T/s1" 2>"$T/s.err" || bad "sample exits non-zero: $(cat "$T/s.err")"
"$L" scripts/char_rnn.lua "${S[@]}" --seed 7 >"$T/s2" 2>/dev/null
head -c 6 "$T/s1" | grep -q '^ROMEO:$' || bad "sample does not start with the prime text: $(head -c 40 "$T/s1")"
[ "$(wc -m <"$T/s1")" = 127 ] || bad "sample: $(wc -m <"$T/s1") characters, wanted 6 + 120 + newline"
cmp -s "$T/s1" "$T/s2" || bad "sample: the same seed gave different text"

# --help on stdout with status 0; a bad option and a bad prime character fail with a message
"$L" scripts/char_rnn.lua --help >"$T/help" 2>&1 || bad "--help exits non-zero"
grep -q -- '--rnn_size' "$T/help" || bad "--help does not list --rnn_size: $(cat "$T/help")"
"$L" scripts/char_rnn.lua --no_such_flag 1 >"$T/bad" 2>&1 && bad "an unknown option exits 0"
grep -q 'no_such_flag' "$T/bad" || bad "an unknown option is not named: $(cat "$T/bad")"
"$L" scripts/char_rnn.lua "${S[@]}" --primetext "ROMEO~" >"$T/bad2" 2>&1 && bad "an unseen prime character exits 0"
grep -q 'never saw' "$T/bad2" || bad "an unseen prime character: $(cat "$T/bad2")"

[ "$fail" = 0 ] && echo "char_rnn.sh: all checks passed"
exit "$fail"
