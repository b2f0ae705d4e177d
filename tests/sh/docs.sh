#!/usr/bin/env bash
# docs.sh BUILD SRC — every code block of README.md and docs/guide.md runs, so the docs cannot
# rot: the ```lua blocks through tests/sh/doc_blocks.lua (in the lunet runner, one state per
# file, REPL-style, in a scratch directory for the files they write), and each ```c block is
# compiled against an install made with `cmake --install --prefix` and pkg-config alone, then
# run with the installed modules' directory. ```sh blocks are commands for the reader's shell
# (building, installing): CI runs their equivalents itself (build.sh, embed.sh, luarocks.sh).
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d /tmp/lunet-docs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
build=$(cd "$build" && pwd)
src=$(cd "$src" && pwd)
lunet=$build/lunet
export LUNET_QUIET=1

cblocks=()
for doc in "$src/README.md" "$src/docs/guide.md"; do
  mkdir -p "$tmp/run"
  out=$(cd "$tmp/run" && "$lunet" "$src/tests/sh/doc_blocks.lua" "$doc" </dev/null)
  echo "$out" | grep -v '^C '
  while read -r _ path line; do cblocks+=("$path:$line"); done < <(echo "$out" | grep '^C ' || true)
done
for svg in digits_loss.svg digits_confusion.svg; do
  [ -s "$tmp/run/$svg" ] || { echo "docs: the guide's $svg was not written" >&2; exit 1; }
done

if [ ${#cblocks[@]} -gt 0 ]; then
  cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
  pcdir=$(dirname "$(find "$tmp/prefix" -name lunet.pc | head -1)")
  luadir=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=luadir lunet)
  san=()
  if [ "${LUNET_SANITIZE:-0}" = 1 ]; then san=(-fsanitize=address,undefined -fno-omit-frame-pointer); fi
  for b in "${cblocks[@]}"; do
    path=${b%:*}
    line=${b##*:}
    awk -v start="$line" 'NR > start { if ($0 ~ /^```/) exit; print }' "$path" > "$tmp/block.c"
    ${CC:-cc} -std=c11 -Wall -Wextra -Werror "${san[@]}" "$tmp/block.c" -o "$tmp/block" \
      $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs lunet) ||
      { echo "docs: the C block at $b does not compile" >&2; exit 1; }
    "$tmp/block" "$luadir" || { echo "docs: the C block at $b failed" >&2; exit 1; }
    echo "docs: C block $b ok"
  done
fi
echo "docs: ok"
