# cloudio — build, test, demo and benchmarks.
#
#   make            build/libcloudio.so and build/cloudio.pc
#   make demo       the main job on an embedded synthetic DEM
#   make check      the quick tier (a few minutes; no server, no network):
#                   Go under -race, C and C++, the Python tests that start no
#                   server and handle no multi-GiB raster, ruff and mypy
#   make test       every test: Go, C, C++ (plus valgrind), Python, lint
#   make fuzz       every Go fuzz target for FUZZTIME (default 60s) each
#   make bench      the benchmark table (README)
#   make install PREFIX=/usr/local
#
# Every user-facing target first runs `bootstrap`, which installs the Debian
# packages a fresh machine lacks (as root) or prints the command to do so.

PREFIX    ?= /usr/local
# The one version source: VERSION. The copies that must hold it without
# reading a file (Go's raster.Version, cloudio.__version__) are checked
# against it by tests/python/test_errors_and_loading.py.
VERSION   := $(shell cat VERSION)
# Debian's interpreter sees python3-gdal, python3-numpy, ...; a pyenv python3
# earlier on PATH does not.
PYTHON    ?= /usr/bin/python3
GO        ?= go
CC        ?= cc
CXX       ?= c++
BUILD     := build
LIB       := $(BUILD)/libcloudio.so
GO_SRC    := $(shell find capi internal -name '*.go' -o -name '*.c' -o -name '*.h' 2>/dev/null) capi/exports.map go.mod go.sum
CFLAGS_T  := -std=c99 -Wall -Wextra -Werror -pedantic -g -Iinclude
CXXFLAGS_T:= -std=c++17 -Wall -Wextra -Werror -pedantic -g -Iinclude
LDFLAGS_T := -L$(BUILD) -Wl,-rpath,'$$ORIGIN' -lcloudio -lm
# GOGC=off: Go's collector frees goroutine stacks (and shrinks them) into
# its heap, where valgrind keeps the marks it gave their frames and then
# reports C reading Go-allocated objects there (tests/valgrind.supp, A).
VALGRIND  := GOGC=off valgrind --error-exitcode=9 --undef-value-errors=no --leak-check=full --errors-for-leak-kinds=definite \
             --suppressions=../tests/valgrind.supp --quiet

# Azurite, the Azure Blob emulator the storage tests start on 127.0.0.1 (from
# the npm registry). 3.35.0 is the newest that runs on Debian 12's Node 18
# (3.36 needs Node 21).
AZURITE_VERSION := 3.35.0
AZURITE := .tools/azurite/node_modules/.bin/azurite-blob

DEBIAN_PACKAGES := gcc g++ make pkg-config libgdal-dev gdal-bin python3 python3-gdal \
	python3-numpy python3-pytest python3-hypothesis python3-venv python3-pip python3-setuptools valgrind time \
	python3-dask python3-distributed python3-xarray python3-rasterio python3-rioxarray
# MinIO, the S3 server the storage tests start on 127.0.0.1 (built from the Go module proxy).
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c

.PHONY: all examples bootstrap check check-go check-c check-python lint test test-go test-c test-python \
	test-dask-current fuzz demo bench install clean

all: $(LIB) $(BUILD)/cloudio.pc

bootstrap:
	@sh tests/bootstrap.sh $(DEBIAN_PACKAGES)

$(LIB): $(GO_SRC)
	@mkdir -p $(BUILD)
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -trimpath \
		-ldflags '-extldflags=-Wl,-soname,libcloudio.so,--version-script=$(CURDIR)/capi/exports.map' -o $(LIB) ./capi
	@rm -f $(BUILD)/libcloudio.h  # cgo's generated header; include/cloudio.h is the contract

$(BUILD)/cloudio.pc: cloudio.pc.in Makefile VERSION
	@mkdir -p $(BUILD)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' cloudio.pc.in > $@

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(LIB) $(DESTDIR)$(PREFIX)/lib/libcloudio.so
	install -m 0644 include/cloudio.h $(DESTDIR)$(PREFIX)/include/cloudio.h
	install -m 0644 $(BUILD)/cloudio.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/cloudio.pc

# ---- tests -----------------------------------------------------------------
# Two tiers. `make check` is what to run after a change: no server process
# and no network (the Go tests' HTTP fakes are in-process on 127.0.0.1), Go
# under the race detector. `make test` is the full suite CI runs: everything
# `check` runs except the race detector, plus valgrind, AddressSanitizer,
# MinIO, Azurite, fake-gcs-server, Dask clusters and the multi-GiB memory
# tests (the pytest markers `servers` and `heavy`, tests/python/conftest.py).

check: bootstrap all check-go check-c check-python lint
	@echo "make check: passed (make test runs the full suite)"

# internal/upload's tests stream COGs to real MinIO and Azurite servers: they
# belong to make test, which builds the servers first.
check-go:
	$(GO) vet ./...
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v '/internal/upload$$')

check-python: all examples
	CLOUDIO_TEST_TIER=check PYTHONPATH=python $(PYTHON) -m pytest -q -p no:cacheprovider \
		-m "not servers and not heavy" tests/python

test: bootstrap all lint test-go test-c test-python test-dask-current
	@echo "make test: all suites passed"

test-go: .tools/minio $(AZURITE)
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	# The TIFF decoder again under AddressSanitizer: its C kernels stay in bounds.
	$(GO) test -asan -count=1 ./internal/tiff

# Every Go fuzz target for FUZZTIME each (`make test` runs their seed corpora
# only), built with AddressSanitizer (FUZZFLAGS) so that a read or write
# outside a buffer in the C decoding kernels fails the run. New failing
# inputs land in the package's testdata/fuzz/, where `make test` runs them
# from then on.
FUZZTIME ?= 60s
FUZZFLAGS ?= -asan
FUZZ_TARGETS := internal/tiff:FuzzOpen internal/tiff:FuzzDecode internal/tiff:FuzzDecodeTiles \
	internal/core:FuzzParseOptions internal/raster:FuzzTiling
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "fuzzing $$name ($$pkg) for $(FUZZTIME)"; \
		$(GO) test $(FUZZFLAGS) -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./$$pkg || exit 1; \
	done

$(BUILD)/c_api_test: tests/c_api_test.c include/cloudio.h $(LIB)
	$(CC) $(CFLAGS_T) -o $@ $< $(LDFLAGS_T)

$(BUILD)/cpp_api_test: tests/cpp_api_test.cpp include/cloudio.h $(LIB)
	$(CXX) $(CXXFLAGS_T) -o $@ $< $(LDFLAGS_T)

check-c: $(BUILD)/c_api_test $(BUILD)/cpp_api_test
	cd $(BUILD) && ./c_api_test
	cd $(BUILD) && ./cpp_api_test

test-c: check-c
	cd $(BUILD) && $(VALGRIND) ./c_api_test
	cd $(BUILD) && $(VALGRIND) ./cpp_api_test

$(BUILD)/stream_slope: examples/stream_slope.c include/cloudio.h $(LIB)
	$(CC) -std=c99 -D_DEFAULT_SOURCE -O2 -Wall -Wextra -Werror -pedantic -Iinclude -o $@ $< $(LDFLAGS_T)

examples: $(BUILD)/stream_slope

.tools/minio:
	GOBIN=$(CURDIR)/.tools $(GO) install github.com/minio/minio@$(MINIO_VERSION)

# Azurite (see AZURITE above): npm comes from Debian when this machine has none.
$(AZURITE):
	command -v npm >/dev/null || sh tests/bootstrap.sh nodejs npm
	npm install --prefix .tools/azurite --no-audit --no-fund --loglevel=error azurite@$(AZURITE_VERSION)

# fake-gcs-server, the Google Cloud Storage emulator of the /vsigs/ tests.
FAKE_GCS_VERSION := v1.56.1
.tools/fake-gcs-server:
	GOBIN=$(CURDIR)/.tools $(GO) install github.com/fsouza/fake-gcs-server@$(FAKE_GCS_VERSION)

test-python: all examples .tools/minio $(AZURITE) .tools/fake-gcs-server
	PYTHONPATH=python $(PYTHON) -m pytest -q -p no:cacheprovider tests/python

# The Dask tests again with Dask and distributed as released today (issue 4
# asks for both Debian 12's 2022.12 and current releases): a venv that sees
# Debian's numpy and GDAL and upgrades only Dask and what it needs. Made once;
# `rm -rf .venv-current` picks up newer releases.
DASK_VENV := .venv-current
$(DASK_VENV)/.installed:
	rm -rf $(DASK_VENV)
	$(PYTHON) -m venv --system-site-packages $(DASK_VENV)
	$(DASK_VENV)/bin/python -m pip install --no-input --disable-pip-version-check --upgrade 'dask[array]' distributed
	touch $@

# ruff and mypy (the package ships py.typed) from the Dask venv, whose
# interpreter sees Debian's numpy and GDAL; their settings: python/pyproject.toml.
RUFF_VERSION := 0.17.5
MYPY_VERSION := 2.4.1
$(DASK_VENV)/.lint-$(RUFF_VERSION)-$(MYPY_VERSION): $(DASK_VENV)/.installed
	$(DASK_VENV)/bin/python -m pip install --no-input --disable-pip-version-check \
		ruff==$(RUFF_VERSION) mypy==$(MYPY_VERSION)
	touch $@

lint: $(DASK_VENV)/.lint-$(RUFF_VERSION)-$(MYPY_VERSION)
	cd python && ../$(DASK_VENV)/bin/ruff check --no-cache cloudio
	cd python && ../$(DASK_VENV)/bin/mypy --cache-dir=/dev/null

test-dask-current: all $(DASK_VENV)/.installed
	$(DASK_VENV)/bin/python -c "import dask, distributed; \
		assert '/usr/lib/python3/' not in dask.__file__ + distributed.__file__, 'Debian dask shadows the venv one'; \
		print('current releases: dask', dask.__version__, 'distributed', distributed.__version__)"
	PYTHONPATH=python $(DASK_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/python/test_dask.py \
		'tests/python/test_doctests.py::test_module_doctests[cloudio._dask]'

# ---- the main job and benchmarks ---------------------------------------------

demo: bootstrap all
	PYTHONPATH=python $(PYTHON) examples/demo.py demo-out

bench: bootstrap all
	PYTHONPATH=python $(PYTHON) bench/bench.py

clean:
	rm -rf $(BUILD)
