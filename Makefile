# Thin wrapper over CMake + Ninja. `make` builds; `make test` builds the ASan+UBSan tree and runs the suite;
# `make run` boots the default guest; `make bench` prints the benchmarks. Each first runs tools/setup.sh.
BUILD ?= build
BUILD_SAN ?= build-asan
CTEST_ARGS ?=

.PHONY: all setup build build-san run test test-stock bench clean

all: build

setup:
	@tools/setup.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(BUILD_SAN)/build.ninja:
	cmake -S . -B $(BUILD_SAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DOPENHV_SANITIZE=ON

build: setup $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-san: setup $(BUILD_SAN)/build.ninja
	ninja -C $(BUILD_SAN)

# The default guest: see README.md. Extra options through RUN_ARGS.
run: build
	tools/run-default-guest.sh $(BUILD)/openhv $(RUN_ARGS)

# Unit, micro-guest, CLI and end-to-end tests (lean kernel, then the stock Debian kernel with 2 VPs, ~6 min here);
# tests that need /dev/kvm skip without it. Ends with "N passed, N failed, N skipped".
test: build build-san
	tools/run-tests.sh $(BUILD_SAN) $(CTEST_ARGS)

# Only the stock Debian kernel end to end.
test-stock: build
	tools/run-tests.sh $(BUILD) -L e2e-stock $(CTEST_ARGS)

bench: build
	OPENHV_SETUP_BENCH=1 tools/setup.sh
	tools/run-bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
