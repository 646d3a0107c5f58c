# The two commands a person needs: `make run` and `make test`.
# Both install missing Debian packages first when run as root.
# Everything else is CMake (CMakePresets.json) and CTest.

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# Needed to build and test; without them nothing works.
REQUIRED := cmake make gcc pkg-config libcmocka-dev libjansson-dev zlib1g-dev liblzma-dev \
            libzstd-dev
# Each serves one part; without it that part says so and the rest goes on:
# clang and its runtime the fuzz targets, valgrind `vmsim record`/`crosscheck`
# and the real-program tests, gnuplot `vmsim plot`, the python3 ones the
# Python package (python/, docs/python.md) and its stage of make test, Open MPI
# `vmsim sweep` under mpirun/srun and its test.
OPTIONAL := clang libclang-rt-14-dev valgrind gnuplot-nox \
            python3-dev python3-numpy python3-pandas python3-matplotlib python3-pytest \
            python3-venv python3-setuptools python3-pip openmpi-bin libopenmpi-dev
FUZZ_SECONDS ?= 10

.PHONY: all deps build run test test-release test-asan bench install clean

all: build

# As root, install whatever is missing; otherwise name it, fail only for
# what the build needs.
deps:
	@missing=""; optional=""; \
	for p in $(REQUIRED); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	for p in $(OPTIONAL); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || optional="$$optional $$p"; \
	done; \
	if [ -n "$$missing$$optional" ] && [ "$$(id -u)" = 0 ]; then \
	  echo "installing:$$missing$$optional"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing $$optional >/dev/null || exit 1; \
	elif [ -n "$$missing" ]; then \
	  echo "missing Debian packages:$$missing (run as root, or: sudo apt-get install$$missing)"; exit 1; \
	elif [ -n "$$optional" ]; then \
	  echo "not installed:$$optional (sudo apt-get install$$optional); meanwhile:"; \
	  case "$$optional" in *clang*) echo "  no fuzz targets in make test";; esac; \
	  case "$$optional" in *valgrind*) echo "  no vmsim record / crosscheck; real-program tests skipped";; esac; \
	  case "$$optional" in *gnuplot*) echo "  no vmsim plot or sweep --plot";; esac; \
	  case "$$optional" in *openmpi*) echo "  no vmsim sweep under MPI (its test is skipped)";; esac; \
	  case "$$optional" in *python3*) echo "  no Python package (make test counts its stage failed)";; esac; \
	fi

build/%/CMakeCache.txt: | deps
	cmake --preset $* >/dev/null

build: deps build/release/CMakeCache.txt
	cmake --build build/release -j $(JOBS)

run: build
	./build/release/vmsim run

# Every stage runs and reports; the last line is the verdict (tests/make_test.sh).
test: deps
	JOBS=$(JOBS) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/make_test.sh

test-release: build
	ctest --test-dir build/release --output-on-failure -j $(JOBS)

test-asan: deps build/asan/CMakeCache.txt
	cmake --build build/asan -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir build/asan --output-on-failure -j $(JOBS)

bench: build
	./build/release/vmsim_bench

# The library, headers, tool, vmsim.pc and the CMake package (docs/library.md).
# `make install PREFIX=$HOME/.local`; DESTDIR stages the tree elsewhere.
PREFIX ?= /usr/local
install: build
	DESTDIR="$(DESTDIR)" cmake --install build/release --prefix "$(PREFIX)"

clean:
	rm -rf build
