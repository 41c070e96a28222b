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

.PHONY: all deps build test unit integration demo bench sanitize format lint clean

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

demo: build
	@CORDON_BUILD_DIR=$(abspath $(BUILD)) scripts/demo.sh

bench: deps
	$(MAKE) build BUILD=build-release CMAKE_FLAGS=-DCMAKE_BUILD_TYPE=Release
	CORDON_BUILD_DIR=$(abspath build-release) scripts/bench.sh

format: deps
	@scripts/lint.sh --fix

lint: deps
	@scripts/lint.sh

clean:
	rm -rf build build-sanitize build-release
