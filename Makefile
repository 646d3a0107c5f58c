# The two commands a person needs: `make run` and `make test`.
# Both install missing Debian packages first when run as root.
# Everything else is CMake (CMakePresets.json) and CTest.

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PKGS := cmake make gcc pkg-config libcmocka-dev libjansson-dev zlib1g-dev liblzma-dev libzstd-dev \
        clang libclang-rt-14-dev valgrind gnuplot-nox
FUZZ_SECONDS ?= 10

.PHONY: all deps build run test test-release test-asan test-fuzz bench install clean

all: build

deps:
	@missing=""; for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "missing Debian packages:$$missing (run as root, or: sudo apt-get install$$missing)"; exit 1; \
	  fi; \
	fi

build/%/CMakeCache.txt: | deps
	cmake --preset $* >/dev/null

build: deps build/release/CMakeCache.txt
	cmake --build build/release -j $(JOBS)

run: build
	./build/release/vmsim run

test: test-release test-asan test-fuzz

test-release: build
	ctest --test-dir build/release --output-on-failure -j $(JOBS)

test-asan: deps build/asan/CMakeCache.txt
	cmake --build build/asan -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir build/asan --output-on-failure -j $(JOBS)

# Each fuzz target runs FUZZ_SECONDS from its seed corpus; a crash fails the build.
test-fuzz: deps build/fuzz/CMakeCache.txt
	cmake --build build/fuzz -j $(JOBS)
	@set -e; for f in build/fuzz/fuzz/fuzz_*; do \
	  [ -x "$$f" ] || continue; n=$$(basename $$f); \
	  mkdir -p build/fuzz/corpus/$$n; \
	  echo "fuzz $$n: $(FUZZ_SECONDS) s"; \
	  seeds=; [ -d fuzz/corpus/$$n ] && seeds=fuzz/corpus/$$n; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=0 \
	      build/fuzz/corpus/$$n $$seeds 2>build/fuzz/$$n.log \
	    || { tail -40 build/fuzz/$$n.log; exit 1; }; \
	done; echo "fuzz: all targets ran clean"

bench: build
	./build/release/vmsim_bench

# The library, headers, tool, vmsim.pc and the CMake package (docs/library.md).
# `make install PREFIX=$HOME/.local`; DESTDIR stages the tree elsewhere.
PREFIX ?= /usr/local
install: build
	DESTDIR="$(DESTDIR)" cmake --install build/release --prefix "$(PREFIX)"

clean:
	rm -rf build
