# The front door. Builds go through meson; each build directory is one
# configuration: build (the normal one), build-san (AddressSanitizer and
# UndefinedBehaviorSanitizer), build-tsan (ThreadSanitizer, for the
# recorder's concurrency tests), build-fuzz (clang, libFuzzer).
MESON ?= meson
WERROR := $(if $(CI),-Dwerror=true,)
FUZZ_SECONDS ?= 30

.PHONY: all deps build demo test test-fast test-san test-tsan fuzz fuzz-short bench loop install clean

all: build

deps:
	./scripts/deps.sh

build/build.ninja:
	$(MESON) setup build $(WERROR)

build: deps build/build.ninja
	$(MESON) compile -C build

# Record the 01-basics example under ctrace run, print its overview and
# open it in the browser (ctrace view serves it until Ctrl-C). In CI
# (CI set) nothing waits: the overview, then the command that opens it.
demo: build
	./build/ctrace run -o build/demo.out -- ./build/examples/01-basics
	./build/ctrace stats build/demo.out
	@echo
	@if [ -n "$(CI)" ]; then \
	    echo "To open it in the browser: ./build/ctrace view build/demo.out"; \
	else \
	    ./build/ctrace view build/demo.out; \
	fi

test: build test-fast test-san test-tsan fuzz-short
	@./scripts/test-summary.sh build build-san build-tsan

test-fast: build
	$(MESON) test -C build --print-errorlogs || { ./scripts/test-failures.sh build; exit 1; }

build-san/build.ninja:
	$(MESON) setup build-san $(WERROR) -Db_sanitize=address,undefined -Db_lundef=false -Db_asneeded=false

# Every suite but install, integration and docs, the recording side included:
# run, flight, http and robust trace programs through the sanitized preload
# library, and robust_test.py's sanitized_preload traces programs built
# without a sanitizer through it (the ASan runtime first in LD_PRELOAD;
# verify_asan_link_order=0 for the sanitized programs, whose runtime is
# not first when the preload library comes before it).
test-san: deps build-san/build.ninja
	$(MESON) compile -C build-san
	CTRACE_TEST_SANITIZER=asan UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1:handle_segv=0:verify_asan_link_order=0 \
	    $(MESON) test -C build-san --print-errorlogs --no-suite install --no-suite integration --no-suite docs \
	    || { ./scripts/test-failures.sh build-san; exit 1; }

build-tsan/build.ninja:
	CC=clang $(MESON) setup build-tsan $(WERROR) -Db_sanitize=thread -Db_lundef=false

test-tsan: deps build-tsan/build.ninja
	$(MESON) compile -C build-tsan
	CTRACE_TEST_SANITIZER=tsan TSAN_OPTIONS=halt_on_error=1:die_after_fork=0 $(MESON) test -C build-tsan --suite concurrency --print-errorlogs \
	    || { ./scripts/test-failures.sh build-tsan; exit 1; }

build-fuzz/build.ninja:
	CC=clang $(MESON) setup build-fuzz -Dfuzz=true -Db_lundef=false

# A fuzzing session of FUZZ_SECONDS on the reader and the analyses, from the
# seed corpus; FUZZ_SEED fixes libFuzzer's random choices (0: a new seed).
# Undefined behaviour stops it as a crash does, its input kept in
# fuzz/artifacts.
FUZZ_SEED ?= 0
fuzz: deps build-fuzz/build.ninja
	$(MESON) compile -C build-fuzz
	mkdir -p build-fuzz/corpus fuzz/artifacts
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    ./build-fuzz/fuzz/fuzz_reader -max_total_time=$(FUZZ_SECONDS) -seed=$(FUZZ_SEED) \
	    -artifact_prefix=fuzz/artifacts/ build-fuzz/corpus fuzz/corpus

# The short run of make test: a fixed seed, so that a test run is repeatable
# (make fuzz explores with new seeds).
fuzz-short:
	$(MAKE) fuzz FUZZ_SECONDS=20 FUZZ_SEED=1

# Repeats the concurrency tests to shake out rare races.
loop: build
	$(MESON) test -C build --suite concurrency --repeat 50

bench: build
	./scripts/deps.sh --bench
	./build/bench/bench_recorder
	./build/bench/bench_block
	./build/bench/bench_flight build
	./bench/bench_run.py build
	./bench/bench_real.py build
	./bench/bench_switch.py build
	./bench/bench_read.py build
	./bench/bench_view.py build
	./bench/bench_pages.py build
	./bench/bench_fleet.py build

install: build
	$(MESON) install -C build

clean:
	rm -rf build build-san build-tsan build-fuzz
