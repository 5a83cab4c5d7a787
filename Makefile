# The two commands of the README: `make demo` and `make test`. Each installs the Debian packages
# the build needs when they are missing, configures, builds and runs.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# python3-dev, pybind11-dev, python3-numpy, python3-pytest: the Python module (python/) and its tests;
# python3-torch, libtorch-dev: the PyTorch backend meshreduce.torch (python/torch_backend/).
DEBIAN_PACKAGES := cmake g++ make pkg-config libgtest-dev libgmock-dev libbenchmark-dev \
                   nlohmann-json3-dev libcli11-dev libhwy-dev libhwloc-dev openmpi-bin libopenmpi-dev \
                   python3-dev pybind11-dev python3-numpy python3-pytest python3-torch libtorch-dev

.PHONY: all deps build demo test sanitize sanitize-address sanitize-thread soak fault-stress bench clean fuzz fuzz-ci

all: build

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing missing Debian packages:" $$missing; \
	  sudo=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DMESHREDUCE_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	./$(BUILD)/tools/meshreduce/meshreduce run

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The whole suite, the command line's tests included, under AddressSanitizer +
# UndefinedBehaviorSanitizer, then ThreadSanitizer.
sanitize: sanitize-address sanitize-thread

sanitize-address: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMESHREDUCE_WERROR=ON \
	  -DMESHREDUCE_SANITIZE=address,undefined
	cmake --build build-asan -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir build-asan --output-on-failure -j $(JOBS)

sanitize-thread: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMESHREDUCE_WERROR=ON \
	  -DMESHREDUCE_SANITIZE=thread
	cmake --build build-tsan -j $(JOBS)
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --test-dir build-tsan --output-on-failure -j $(JOBS)

# 10^5 mixed calls, every output checked bit for bit, resident memory growth after the warm-up
# under 1% (ctest runs a 2,000-call variant).
SOAK_CALLS ?= 100000
soak: build
	./$(BUILD)/tests/meshreduce_soak --calls $(SOAK_CALLS)

# The process executor's "one participant dies mid-call" case FAULT_RUNS times (a different rank
# ends by _exit or SIGKILL at a different step each run), then FAULT_RUNS stalls and raises;
# ctest runs 4 of each. Prints the tallies (docs/failures.md).
FAULT_RUNS ?= 100
fault-stress: build
	MESHREDUCE_FAULT_RUNS=$(FAULT_RUNS) ./$(BUILD)/tests/meshreduce_tests \
	  --gtest_filter='ProcessFaults.ADyingProcess*:ProcessFaults.AStallingOrRaising*'

bench: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DMESHREDUCE_BUILD_BENCH=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

# libFuzzer harnesses (fuzz/): each parser and the planner, FUZZ_SECONDS each (fuzz-ci: 10 s each);
# FUZZ_HARNESSES="sizes planner" runs only those.
FUZZ_SECONDS ?= 60
FUZZ_PACKAGES := clang libclang-rt-14-dev

fuzz: deps
	@missing=$$(for p in $(FUZZ_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  sudo=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi
	cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DMESHREDUCE_BUILD_FUZZERS=ON -DMESHREDUCE_BUILD_TESTS=OFF -DMESHREDUCE_BUILD_TOOLS=OFF \
	  -DMESHREDUCE_WITH_MPI=OFF
	cmake --build build-fuzz -j $(JOBS)
	fuzz/run.sh $(FUZZ_SECONDS) build-fuzz $(FUZZ_HARNESSES)

fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=10

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
