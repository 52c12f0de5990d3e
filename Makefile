# Wraps CMake and the test runners; README.md documents the two commands.
BUILD ?= build
JOBS ?= $(shell nproc)
PYTEST = /usr/bin/python3 -m pytest

.PHONY: all setup build run test test-unit test-functional test-sanitize fuzz fuzz-short bench clean

all: build

setup:
	@./scripts/setup-deps.sh

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)
	@./scripts/build-ui.sh

run: build
	BUILD=$(BUILD) ./scripts/dev-run.sh

test:
	@WITH_TEST_PKGS=1 ./scripts/setup-deps.sh
	@$(MAKE) --no-print-directory build
	./scripts/run-tests.sh

test-unit: build
	cd $(BUILD) && ctest --output-on-failure

test-functional: build
	RSPAMD_BUILD=$(CURDIR)/$(BUILD) $(PYTEST) -q test/functional

test-sanitize: setup
	@cmake -S . -B build-asan -DSANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build-asan -j$(JOBS)
	cd build-asan && ctest --output-on-failure
	RSPAMD_BUILD=$(CURDIR)/build-asan $(PYTEST) -q test/functional

fuzz: setup
	./scripts/fuzz.sh $${FUZZ_SECONDS:-300}

fuzz-short: setup
	./scripts/fuzz.sh $${FUZZ_SECONDS:-20}

stress: build
	RSPAMD_BUILD=$(CURDIR)/$(BUILD) $(PYTEST) -q -s test/stress

bench: build
	./test/bench/run.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz
