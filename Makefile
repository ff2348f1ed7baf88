# Top-level targets wrap CMake.  `make demo` and `make check` install missing
# Debian packages first (scripts/install-deps.sh), so on a fresh machine each
# is the only command needed.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX     ?= /usr/local
DATA       ?= all
CMAKE_ARGS ?=

.PHONY: all deps build build-asan check check-fast demo bench soak install clean

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFRAUD_SANITIZE=ON \
	  -DFRAUD_BUILD_BENCH=OFF $(CMAKE_ARGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# The whole suite twice: an optimised build, then under ASan + UBSan.
check:
	@scripts/install-deps.sh build test
	@$(MAKE) --no-print-directory build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory build-asan
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -LE no-sanitize

# Only the optimised build (quicker while developing).
check-fast:
	@scripts/install-deps.sh build test
	@$(MAKE) --no-print-directory build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo:
	@scripts/install-deps.sh build demo
	@$(MAKE) --no-print-directory build
	@scripts/demo.sh $(BUILD)/fraud $(DATA)

bench:
	@if [ -x scripts/bench.sh ]; then scripts/bench.sh $(BUILD); else echo "no benchmarks yet"; fi

soak:
	@if [ -x scripts/soak.sh ]; then scripts/soak.sh $(BUILD); else echo "no soak test yet"; fi

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
