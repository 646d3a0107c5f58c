#!/usr/bin/env bash
# `make test`: every stage runs even when an earlier one fails, each stage
# reports `STAGE: N passed, N failed`, and the last line is the one verdict
# (`total: N passed, N failed`); the exit status is 0 only when nothing failed.
#
# Stages: the release build's CTest suite, the ASan+UBSan build's, the
# parallel tests under ThreadSanitizer, and each
# fuzz target for FUZZ_SECONDS from its seed corpus. A build that fails
# counts as one failure of its stage. A stage whose tools are missing (clang
# for the fuzzers, as a non-root user) is reported as skipped.
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
total_pass=0 total_fail=0
verdicts=()

stage_result() { # name passed failed
    verdicts+=("$1: $2 passed, $3 failed")
    echo "$1: $2 passed, $3 failed"
    total_pass=$((total_pass + $2))
    total_fail=$((total_fail + $3))
}

# Configure and build one preset; 0 on success.
build() {
    { [ -f "build/$1/CMakeCache.txt" ] || cmake --preset "$1" >/dev/null; } &&
        cmake --build "build/$1" -j "$JOBS"
}

ctest_stage() { # preset [environment...]
    local preset=$1
    shift
    if ! build "$preset"; then
        stage_result "$preset" 0 1
        return
    fi
    env "$@" ctest --test-dir "build/$preset" --output-on-failure -j "$JOBS" 2>&1 |
        tee "build/$preset/ctest.log"
    ctest_verdict "$preset" "build/$preset/ctest.log"
}

ctest_verdict() { # stage log
    # "97% tests passed, 1 tests failed out of 34"
    local line failed total
    line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$2" | tail -n 1)
    if [ -z "$line" ]; then
        stage_result "$1" 0 1 # ctest ran no test, or died
        return
    fi
    failed=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
    stage_result "$1" $((total - failed)) "$failed"
}

# The parallel tests again under ThreadSanitizer (docs/concurrency.md): only
# what they need is built, and any data race fails them.
tsan_stage() {
    if ! { { [ -f build/tsan/CMakeCache.txt ] || cmake --preset tsan >/dev/null; } &&
        cmake --build build/tsan -j "$JOBS" --target test_parallel vmsim_cli; }; then
        stage_result tsan 0 1
        return
    fi
    TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
        ctest --test-dir build/tsan -R '^test_parallel$' --output-on-failure 2>&1 |
        tee build/tsan/ctest.log
    ctest_verdict tsan build/tsan/ctest.log
}

fuzz_stage() {
    if ! command -v clang >/dev/null; then
        echo "fuzz: skipped (clang is not installed)"
        verdicts+=("fuzz: skipped (no clang)")
        return
    fi
    if ! build fuzz; then
        stage_result fuzz 0 1
        return
    fi
    local pass=0 fail=0 f n seeds
    for f in build/fuzz/fuzz/fuzz_*; do
        [ -x "$f" ] || continue
        n=$(basename "$f")
        mkdir -p "build/fuzz/corpus/$n"
        seeds=
        [ -d "fuzz/corpus/$n" ] && seeds="fuzz/corpus/$n"
        if "$f" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -print_final_stats=0 \
            "build/fuzz/corpus/$n" $seeds 2>"build/fuzz/$n.log"; then
            echo "fuzz $n: ${FUZZ_SECONDS} s, clean"
            pass=$((pass + 1))
        else
            echo "fuzz $n: FAILED"
            tail -40 "build/fuzz/$n.log"
            fail=$((fail + 1))
        fi
    done
    stage_result fuzz "$pass" "$fail"
}

ctest_stage release
ctest_stage asan ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
tsan_stage
fuzz_stage

echo
printf '%s\n' "${verdicts[@]}"
echo "total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
