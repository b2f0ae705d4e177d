#!/usr/bin/env bash
# Lunet quick start. Installs what is missing (Debian 12 packages), builds, then:
#   ./build.sh demo    runs the digits experiment (scripts/digits.lua)
#   ./build.sh test    runs every test: a normal build, then an ASan+UBSan build (which also
#                      fuzzes the file readers for 60 s each), then ThreadSanitizer on the
#                      thread tests
#   ./build.sh build   only installs and builds (into build/)
# Idempotent: a second run installs nothing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(cmake gcc make pkg-config lua5.4 liblua5.4-dev libopenblas-dev lua-busted zlib1g-dev
          libedit-dev libcjson-dev valgrind clang libclang-rt-14-dev
          luarocks    # luarocks: tests/sh/luarocks.sh builds and loads the rockspec
          libopenmpi-dev openmpi-bin)   # lunet.distributed (tests/mpi: mpirun -np 2)
OPTIONAL=(dataset-fashion-mnist)   # Fashion-MNIST for scripts/fashion_mlp.lua (installed if available)

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}" "${OPTIONAL[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "build.sh: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {  # build DIR [cmake options...]
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

cmd=${1:-demo}
install_deps
case "$cmd" in
  build) build build ;;
  demo)
    build build
    ./build/lunet scripts/digits.lua ;;
  test)
    build build
    (cd build && ctest --output-on-failure -j2)
    echo "== sanitizer pass (AddressSanitizer + UndefinedBehaviorSanitizer) =="
    build build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLUNET_SANITIZE=ON
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
       ctest --output-on-failure -j2)
    echo "== ThreadSanitizer pass (clang): the worker pool, a training loop on two threads =="
    CC=clang cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLUNET_TSAN=ON >/dev/null
    cmake --build build-tsan -j"$(nproc)" --target test_pool test_determinism
    (cd build-tsan && ctest --output-on-failure)
    ;;
  *) echo "usage: ./build.sh [demo|test|build]" >&2; exit 2 ;;
esac
