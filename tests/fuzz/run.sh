#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS [TARGET...]] — builds the libFuzzer targets with clang
# (-fsanitize=fuzzer,address,undefined) and runs each for SECONDS (default 60) from the seed
# corpus in tests/fuzz/corpus/<target>/. Exits non-zero on any finding (a crash, a sanitizer
# report, a leak, a timeout or running out of memory); the input that caused it is kept in
# $LUNET_FUZZ_OUT (default: a fresh directory under /tmp), whose path is printed.
# Needs clang and its runtime (Debian: clang, libclang-rt-dev or the clang-N package itself),
# pkg-config, OpenBLAS, cJSON and zlib development files. Self-contained: no CMake build needed.
set -euo pipefail

secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors idx csv)
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
CC=${CC:-clang}
out=${LUNET_FUZZ_OUT:-$(mktemp -d /tmp/lunet-fuzz.XXXXXX)}
mkdir -p "$out"
echo "fuzz: building in $out"

command -v "$CC" >/dev/null || { echo "fuzz: $CC not found" >&2; exit 1; }
deps=$(pkg-config --cflags --libs openblas libcjson zlib)
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cflags="-std=c11 -g -O1 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DNN_BUILD
        -I$src/runtime -I$src/runtime/include $(pkg-config --cflags openblas libcjson zlib)"

# the core, instrumented for coverage, once for all targets
mkdir -p "$out/obj"
objs=()
for c in "$src"/runtime/*.c; do
  o="$out/obj/$(basename "${c%.c}").o"
  $CC $cflags $san -fsanitize=fuzzer-no-link -c "$c" -o "$o"
  objs+=("$o")
done

status=0
for t in "${targets[@]}"; do
  bin="$out/fuzz_$t"
  $CC $cflags $san -fsanitize=fuzzer "$here/fuzz_$t.c" "${objs[@]}" $deps -lm -o "$bin"
  work="$out/corpus_$t"            # new inputs go here; the seeds in the tree stay untouched
  mkdir -p "$work"
  dict=()
  [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  echo "fuzz: $t for ${secs}s"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "$bin" "$work" "$here/corpus/$t" "${dict[@]}" -max_total_time="$secs" -timeout=10 \
      -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 -artifact_prefix="$out/$t-" \
      > "$out/$t.log" 2>&1; then
    echo "fuzz: $t FAILED; log $out/$t.log, artifacts $out/$t-*" >&2
    tail -40 "$out/$t.log" >&2
    status=1
  else
    grep -E "^stat::number_of_executed_units|^Done" "$out/$t.log" || true
  fi
done
[ $status -eq 0 ] && echo "fuzz: no findings"
exit $status
