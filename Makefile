# Thin wrapper over CMake/CTest.  Every target installs what it needs first.
BUILD ?= build
ASAN  ?= build-asan
FUZZ  ?= build-fuzz
JOBS  ?= $(shell nproc)
FUZZ_SECONDS ?= 20

.PHONY: all deps build asan check demo bench bench-nat bench-cloud fuzz fuzz-build fresh clean install deb

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

asan: deps
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DCYPHONIC_SANITIZE=ON -DCYPHONIC_KEYLOG=ON >/dev/null
	@cmake --build $(ASAN) -j$(JOBS)

# Unit tests on the release build; then unit and network tests again on
# the ASan/UBSan build, whose daemons the network tests run; then a short
# smoke of every libFuzzer target (FUZZ_SMOKE_SECONDS each).
FUZZ_SMOKE_SECONDS ?= 3
check: build asan fuzz-build
	@FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS) scripts/check.sh $(BUILD) $(ASAN) $(FUZZ)

demo: build
	@scripts/demo.sh $(BUILD)/bin

bench: build
	@bench/bench.sh $(BUILD)/bin
	@bench/cloud_flood.sh $(BUILD)/bin
	@bench/mobility.sh $(BUILD)/bin
	@bench/nat.sh $(BUILD)/bin

# The cloud under many simulated nodes (docs/cloud.md, "Load").
bench-cloud: build
	@bench/cloud.sh $(BUILD)/bin

# The NAT matrix alone (docs/nat.md).
bench-nat: build
	@bench/nat.sh $(BUILD)/bin

fuzz-build: deps
	@CC=clang cmake -S . -B $(FUZZ) -DCYPHONIC_FUZZ=ON -DCYPHONIC_TESTS=OFF >/dev/null
	@cmake --build $(FUZZ) -j$(JOBS)

fuzz: fuzz-build
	@scripts/fuzz.sh $(FUZZ) $(FUZZ_SECONDS)

# The two README commands on a fresh minimal Debian 12 root (scripts/fresh.sh).
fresh: deps
	@scripts/fresh.sh

# Install the release build under PREFIX (the programs, man pages,
# systemd units: dist/CMakeLists.txt).
PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

# cyphonic_VERSION_ARCH.deb here, packaged from the release build (its
# files for /usr, stripped: dist/CMakeLists.txt).
deb: build
	@rm -f cyphonic_*.deb
	@cd $(BUILD) && cpack -G DEB -B "$(CURDIR)/$(BUILD)/deb" >/dev/null
	@cp $(BUILD)/deb/cyphonic_*.deb .
	@ls cyphonic_*.deb

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ) cyphonic_*.deb
