# The two commands: `make run` and `make test`. Both install what is missing first.
JOBS ?= $(shell nproc)

.PHONY: all deps deps-run build test run clean

all: build

# What building and running need (make build, make run); make test adds the test tools.
deps-run:
	@scripts/bootstrap.sh run

deps:
	@scripts/bootstrap.sh test

build: deps-run
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DARQ_TESTS=OFF >/dev/null
	@cmake --build build -j$(JOBS)

test: deps
	@scripts/test.sh

run: build
	@scripts/run.sh

clean:
	rm -rf build build-asan build-fuzz
