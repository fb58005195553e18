# Thin wrapper over CMake + Ninja. `make` builds; `make test` builds the ASan+UBSan tree and runs the suite;
# `make run` boots the default guest; `make bench` prints the benchmarks; `make fuzz` runs the libFuzzer targets.
# Each first runs tools/setup.sh.
BUILD ?= build
BUILD_SAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
CTEST_ARGS ?=
FUZZ_SECONDS ?= 60
FUZZ_ARGS ?= -close_fd_mask=2
FUZZ_TARGETS ?= $(patsubst fuzz/%.c,%,$(filter-out fuzz/fuzz_main.c,$(wildcard fuzz/fuzz_*.c)))

.PHONY: all setup build build-san run test test-stock bench fuzz clean

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

# Each fuzz target (fuzz/fuzz_*.c) under libFuzzer + ASan + UBSan (clang, tree $(BUILD_FUZZ)) for FUZZ_SECONDS.
# The corpus grows in $(BUILD_FUZZ)/corpus/<target>/ and starts from the committed seeds in fuzz/corpus/<target>/
# (copy an input there to keep it); a finding is written to $(BUILD_FUZZ)/fuzz-artifacts/<target>/ and fails the
# run. FUZZ_ARGS go to libFuzzer (the default closes the target's stderr, where hv logs what the guest does;
# libFuzzer and sanitizer reports still show). The gcc ASan tree of `make test` runs each target too, briefly,
# through fuzz/fuzz_main.c (ctest fuzz/<target>).
fuzz: setup
	CC=clang cmake -S . -B $(BUILD_FUZZ) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOPENHV_FUZZ=ON
	ninja -C $(BUILD_FUZZ) $(FUZZ_TARGETS)
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD_FUZZ)/corpus/$$t $(BUILD_FUZZ)/fuzz-artifacts/$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		$(BUILD_FUZZ)/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
			-artifact_prefix=$(BUILD_FUZZ)/fuzz-artifacts/$$t/ $(FUZZ_ARGS) $(BUILD_FUZZ)/corpus/$$t \
			fuzz/corpus/$$t; \
	done

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ)
