#!/usr/bin/env bash
# install_prefix.sh BUILD SRC — an install made with `cmake --install BUILD --prefix X` is
# usable through pkg-config alone: lunet.pc finds X from its own place (no --define-variable),
# the embedding host tests/embed/host_lua.c builds with only
#   PKG_CONFIG_PATH=X/<libdir>/pkgconfig pkg-config --cflags --libs lunet
# and runs with the Lua modules found at `pkg-config --variable=luadir lunet`; help's text
# (API.md) is installed beside them. The install is then moved, and pkg-config follows it.
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d /tmp/lunet-prefix.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/x" > "$tmp/install.log"
pcdir=$(dirname "$(find "$tmp/x" -name lunet.pc -path '*pkgconfig*' | head -1)")
[ -f "$pcdir/lunet.pc" ] || { echo "install_prefix: no lunet.pc under $tmp/x" >&2; exit 1; }

check_prefix() {  # check_prefix DIR: pkg-config's answers point into DIR
  local dir=$1 cflags libs luadir
  cflags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags lunet)
  libs=$(PKG_CONFIG_PATH=$pcdir pkg-config --libs lunet)
  luadir=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=luadir lunet)
  echo "install_prefix: cflags: $cflags"
  echo "install_prefix: libs: $libs"
  echo "install_prefix: luadir: $luadir"
  # the header and the library must be where the flags say (no /usr/local fallback)
  local inc lib
  inc=$(printf '%s\n' $cflags | sed -n 's/^-I//p' | grep -F "$dir" | head -1)
  lib=$(printf '%s\n' $libs | sed -n 's/^-L//p' | grep -F "$dir" | head -1)
  [ -n "$inc" ] && [ -f "$inc/lunet.h" ] && [ -f "$inc/nn.h" ] ||
    { echo "install_prefix: Cflags do not lead to lunet.h under $dir" >&2; exit 1; }
  [ -n "$lib" ] && [ -f "$lib/liblunet.a" ] ||
    { echo "install_prefix: Libs do not lead to liblunet.a under $dir" >&2; exit 1; }
  [ -f "$luadir/lunet/nn.lua" ] && [ -f "$luadir/lunet/API.md" ] ||
    { echo "install_prefix: luadir has no lunet/nn.lua and lunet/API.md" >&2; exit 1; }
}
check_prefix "$tmp/x"

san=()
if [ "${LUNET_SANITIZE:-0}" = 1 ]; then
  san=(-fsanitize=address,undefined -fno-omit-frame-pointer)
fi
cc=${CC:-cc}
"$cc" -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L "${san[@]}" \
  "$src/tests/embed/host_lua.c" -o "$tmp/host_lua" \
  $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs lunet)
"$tmp/host_lua" "$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=luadir lunet)"

# help's text is found in the installed tree (stock lua5.4 if present: no runner, no config)
if command -v lua5.4 > /dev/null && [ "${LUNET_SANITIZE:-0}" != 1 ]; then
  luadir=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=luadir lunet)
  cmod=$(dirname "$(find "$tmp/x" -name lunet.so | head -1)")
  out=$(LUA_PATH="$luadir/?.lua;;" LUA_CPATH="$cmod/?.so;;" lua5.4 -e '
    local h = require "lunet.help"
    io.write(h.api_path(), "\n", h.text("lunet.zeros"), "\n")')
  echo "$out"
  case "$out" in *"$luadir/lunet/API.md"*"lunet.zeros(...)"*) ;;
    *) echo "install_prefix: help did not read the installed API.md" >&2; exit 1 ;; esac
fi

# moved elsewhere, the install still answers for its new place
mv "$tmp/x" "$tmp/moved"
pcdir=${pcdir/$tmp\/x/$tmp/moved}
check_prefix "$tmp/moved"
echo "install_prefix: ok"
