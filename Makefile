# surrealdb-lua: the commands a developer runs. See README.md.
.PHONY: all setup build demo test coverage bench lint format clean

BUILD_DIR ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

all: build

## setup: install the Debian and npm packages (scripts/setup)
setup:
	scripts/setup

## build: build the C core into build/surrealdb/core.so
build:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD_DIR) -j$(JOBS)

## demo: run scripts/demo.lua against the dev server (or SURREAL_URL)
demo: build
	LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='$(BUILD_DIR)/?.so;;' \
	  scripts/with-dev-server lua5.4 scripts/demo.lua

## test: all checks and specs, ending with `N passed, N failed`
test:
	scripts/test

## coverage: line coverage of the C core (gcov/lcov) and of the Lua modules
coverage:
	scripts/coverage

## bench: the benchmarks of bench/ (against the dev server where they need one)
bench: build
	LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='$(BUILD_DIR)/?.so;;' \
	  scripts/with-dev-server sh -c 'for b in bench/*.lua; do echo "== $$b"; lua5.4 $$b || exit 1; done'

lint:
	luacheck lua spec bench scripts/demo.lua scripts/surreal-migrate scripts/examples
	clang-format --dry-run -Werror core/src/*.c core/include/*.h

format:
	clang-format -i core/src/*.c core/include/*.h

clean:
	rm -rf build build-asan build-coverage build.luarocks coverage
