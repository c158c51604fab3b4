# Convenience front end for the README's two commands. The real build is CMake.
#   make demo   install deps, build (release), run the main job on synthetic data
#   make test   install deps, build normal + ASan/UBSan (+ fuzz), run every test
JOBS    ?= $(shell nproc)
BUILD   ?= build
ASAN    ?= build-asan
FUZZ    ?= build-fuzz
CMAKE_FLAGS ?=

.PHONY: all deps build demo test test-normal test-asan test-fuzz clean

all: build

deps:
	@sh scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	sh scripts/demo.sh $(BUILD)

test: deps test-normal test-asan test-fuzz
	@echo "make test: all configurations passed"

test-normal:
	cmake -S . -B $(BUILD)-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEQREC_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)-test -j $(JOBS)
	cd $(BUILD)-test && ctest --output-on-failure -j $(JOBS)

test-asan:
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DSEQREC_WERROR=ON -DSEQREC_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

# libFuzzer build of the request decoder: replays tests/fuzz/corpus and fuzzes
# for a bounded time (FUZZ_SECONDS).
FUZZ_SECONDS ?= 60
test-fuzz:
	CC=clang-14 cmake -S . -B $(FUZZ) -DCMAKE_BUILD_TYPE=Debug -DSEQREC_FUZZ=ON -DSEQREC_TESTS=ON \
	  -DSEQREC_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(FUZZ) -j $(JOBS) --target fuzz_proto_request
	cd $(FUZZ) && ctest --output-on-failure -L fuzz

clean:
	rm -rf $(BUILD) $(BUILD)-test $(ASAN) $(FUZZ)
