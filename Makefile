# Thin wrapper around scripts/ and CMake. Every target installs what is
# missing first (scripts/install-deps.sh is idempotent and quick when
# everything is there).
BUILD       ?= build
CMAKE_FLAGS ?=
JOBS        ?= $(shell nproc)
# Debian's python3 (where python3-pytest and python3-botocore live), not
# whatever python3 comes first on PATH.
PYTHON      ?= /usr/bin/python3
PYTEST_ARGS ?=

.PHONY: all deps build test unit integration demo bench sanitize fuzz format lint clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure

integration: build
	CORDON_BUILD_DIR=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/integration tests/security $(PYTEST_ARGS)

test: build
	cd $(BUILD) && ctest --output-on-failure
	CORDON_BUILD_DIR=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/integration tests/security $(PYTEST_ARGS)

# allocator_may_return_null: code must survive a failed malloc, and the
# tests check that it does (ASan would otherwise abort on huge requests).
sanitize: export ASAN_OPTIONS = allocator_may_return_null=1:abort_on_error=0:$(EXTRA_ASAN_OPTIONS)
sanitize: export UBSAN_OPTIONS = print_stacktrace=1:halt_on_error=1
sanitize:
	$(MAKE) test BUILD=build-sanitize CMAKE_FLAGS="-DCORDON_SANITIZE=address,undefined -DCORDON_WERROR=ON"

# libFuzzer targets (clang), each run for FUZZ_SECONDS on a fresh corpus
# under build-fuzz/; a crash fails the target. Longer runs: by hand.
FUZZ_SECONDS ?= 10
fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCORDON_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build-fuzz -j$(JOBS)
	@set -e; for f in build-fuzz/fuzz/fuzz_*; do \
		mkdir -p build-fuzz/corpus/$$(basename $$f); \
		echo "fuzz: $$(basename $$f) for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=0 \
			build-fuzz/corpus/$$(basename $$f) 2>build-fuzz/$$(basename $$f).log || \
			{ tail -40 build-fuzz/$$(basename $$f).log; exit 1; }; \
	done

demo: build
	@CORDON_BUILD_DIR=$(abspath $(BUILD)) scripts/demo.sh

bench: deps
	scripts/install-deps.sh --bench
	$(MAKE) build BUILD=build-release CMAKE_FLAGS=-DCMAKE_BUILD_TYPE=Release
	CORDON_BUILD_DIR=$(abspath build-release) scripts/bench.sh

format: deps
	@scripts/lint.sh --fix

lint: deps
	@scripts/lint.sh

clean:
	rm -rf build build-sanitize build-release build-fuzz
