#!/usr/bin/env bash
# `make test`: every stage runs even when an earlier one fails, each stage
# reports `STAGE: N passed, N failed`, and the last line is the one verdict
# (`total: N passed, N failed`); the exit status is 0 only when nothing failed.
#
# Stages: the release build's CTest suite, the ASan+UBSan build's, the
# parallel tests under ThreadSanitizer, each
# fuzz target for FUZZ_SECONDS from its seed corpus, and the Python
# package's pytest tests (python_stage). A build that fails
# counts as one failure of its stage. A stage whose tools are missing (clang
# for the fuzzers, as a non-root user) is reported as skipped, except the
# python stage, which counts them as a failure.
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

# One fuzz target from its seed corpus for FUZZ_SECONDS; its exit status
# goes to build/fuzz/NAME.rc, its output to build/fuzz/NAME.log.
fuzz_one() {
    local f=$1 n seeds=
    n=$(basename "$f")
    rm -f "build/fuzz/$n.rc"
    mkdir -p "build/fuzz/corpus/$n"
    [ -d "fuzz/corpus/$n" ] && seeds="fuzz/corpus/$n"
    "$f" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -print_final_stats=0 \
        "build/fuzz/corpus/$n" $seeds 2>"build/fuzz/$n.log"
    echo $? >"build/fuzz/$n.rc"
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
    # JOBS targets at a time, each for FUZZ_SECONDS of its own; results in
    # the targets' order
    local pass=0 fail=0 f n targets=()
    for f in build/fuzz/fuzz/fuzz_*; do
        [ -x "$f" ] && targets+=("$f")
    done
    for f in "${targets[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
            wait -n
        done
        fuzz_one "$f" &
    done
    wait
    for f in "${targets[@]}"; do
        n=$(basename "$f")
        if [ "$(cat "build/fuzz/$n.rc" 2>/dev/null)" = 0 ]; then
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

# The Python package (docs/python.md), installed the way its README says: a
# fresh venv over Debian's numpy/pandas/matplotlib/pytest, pip offline and
# without build isolation (setup.py builds libvmsim with CMake); then its
# pytest tests, which use the release build's vmsim as referee. Missing
# tools are a failure of the stage, as a failed build is.
python_stage() {
    local py=/usr/bin/python3 venv=build/python-venv log=build/python-pytest.log line
    if ! [ -x "$py" ] || ! "$py" -c 'import venv, numpy, pandas, matplotlib, pytest' 2>/dev/null; then
        echo "python: expected $py with venv, numpy, pandas, matplotlib and pytest (make deps as" \
            "root installs python3-venv python3-numpy python3-pandas python3-matplotlib python3-pytest)"
        stage_result python 0 1
        return
    fi
    if ! build release || ! rm -rf "$venv" || ! "$py" -m venv --system-site-packages "$venv" ||
        ! VMSIM_JOBS="$JOBS" VMSIM_BUILD_DIR="$PWD/build/release" \
            "$venv/bin/pip" install -q --no-index --no-build-isolation ./python; then
        echo "python: the package did not build or install"
        stage_result python 0 1
        return
    fi
    # from build/: the package is the venv's, not python/vmsim of the tree
    (cd build && "../$venv/bin/python" -c 'import vmsim; print("python: vmsim from", vmsim.__file__)' &&
        VMSIM_BIN="$PWD/release/vmsim" "../$venv/bin/python" -m pytest -q \
        -p no:cacheprovider ../python/tests) 2>&1 | tee "$log"
    # pytest's last line: "12 passed in 3.4s", "1 failed, 11 passed in 3.4s", "2 errors in 0.3s"
    line=$(grep -E '^(=+ )?[0-9]+ [a-z]+(, [0-9]+ [a-z]+)* in [0-9.]+s|no tests ran' "$log" | tail -n 1)
    local pass fail
    pass=$(grep -oE '[0-9]+ passed' <<<"$line" | awk '{s += $1} END {print s + 0}')
    fail=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$line" | awk '{s += $1} END {print s + 0}')
    if [ -z "$line" ] || [ $((pass + fail)) -eq 0 ]; then
        stage_result python 0 1 # pytest ran no test, or died
        return
    fi
    stage_result python "$pass" "$fail"
}

# `tests/make_test.sh STAGE...` runs only those (release, asan, tsan, fuzz, python)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(release asan tsan fuzz python)
for stage in "${stages[@]}"; do
    case $stage in
    release) ctest_stage release ;;
    asan) ctest_stage asan ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ;;
    tsan) tsan_stage ;;
    fuzz) fuzz_stage ;;
    python) python_stage ;;
    *) echo "make_test.sh: expected a stage (release, asan, tsan, fuzz, python), found \"$stage\""
       exit 2 ;;
    esac
done

echo
printf '%s\n' "${verdicts[@]}"
echo "total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
