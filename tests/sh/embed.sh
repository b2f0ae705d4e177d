#!/usr/bin/env bash
# embed.sh BUILD SRC — installs the build into a scratch prefix and builds two host programs
# against what was installed (headers, liblunet.a, lunet.pc), as a user would:
#   tests/embed/host_lua.c  a C program embedding Lua 5.4 and Lunet (lunet_wrap, lua_pcall)
#   tests/embed/host_c.c    a pure-C program on nn.h (training, two threads, two contexts)
# then runs both. In a sanitizer build (LUNET_SANITIZE=1) the hosts get the same -fsanitize
# flags, since liblunet.a was compiled with them.
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d /tmp/lunet-embed.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp" > "$tmp/install.log"
pc=$(find "$tmp" -name lunet.pc -path '*pkgconfig*' | head -1)
[ -n "$pc" ] || { echo "embed: no lunet.pc installed under $tmp" >&2; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --define-variable=lunet_prefix="$tmp" --cflags --libs --static lunet)
echo "embed: pkg-config: $flags"
case "$flags" in *"-I$tmp/"*) ;; *) echo "embed: Cflags do not point into the install" >&2; exit 1 ;; esac
[ -f "$tmp/include/lunet/nn.h" ] && [ -f "$tmp/include/lunet/lunet.h" ] ||
  { echo "embed: nn.h / lunet.h not installed" >&2; exit 1; }

san=()
if [ "${LUNET_SANITIZE:-0}" = 1 ]; then
  san=(-fsanitize=address,undefined -fno-omit-frame-pointer)
fi
cc=${CC:-cc}
# the installed headers only: no -I into the source tree
"$cc" -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L "${san[@]}" \
  "$src/tests/embed/host_c.c" -o "$tmp/host_c" $flags -pthread
"$cc" -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L "${san[@]}" \
  "$src/tests/embed/host_lua.c" -o "$tmp/host_lua" $flags

luadir=$(dirname "$(find "$tmp" -path '*/lua/5.4/lunet/nn.lua' | head -1)")
luadir=$(dirname "$luadir")
"$tmp/host_c"
"$tmp/host_lua" "$luadir"
echo "embed: ok"
