# The two commands: `make run` and `make test`. Both install what is missing first.
JOBS ?= $(shell nproc)

.PHONY: all deps build test run clean

all: build

deps:
	@scripts/bootstrap.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS)

test: deps
	@scripts/test.sh

run: build
	@scripts/run.sh

clean:
	rm -rf build build-asan build-fuzz
