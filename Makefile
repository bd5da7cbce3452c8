# li707 - thin driver around CMake/CTest. See README.md.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 300

.PHONY: all deps build check demo bench fuzz fuzz-smoke asan clean

all: build

deps:
	@scripts/deps.sh all

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

check: build fuzz-smoke
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# ASan + UBSan build running the whole suite.
asan: deps
	cmake -S . -B $(ASAN_BUILD) -DLI707_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

$(FUZZ_BUILD)/fuzz/fuzz_decode: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DLI707_FUZZ=ON -DLI707_SANITIZE=ON -DLI707_TESTS=OFF \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

# A short fuzz run of every target (part of make check); longer with `make fuzz`.
fuzz-smoke: $(FUZZ_BUILD)/fuzz/fuzz_decode
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	scripts/fuzz.sh $(FUZZ_BUILD) 20

fuzz: $(FUZZ_BUILD)/fuzz/fuzz_decode
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

demo: build
	scripts/demo.sh $(BUILD)

bench: build
	scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
