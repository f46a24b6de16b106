# The two commands of the README. Both set up a fresh Debian/Ubuntu machine
# themselves: system packages (as root), npm packages and the TypeScript build.
SHELL := /bin/sh
E2E_USER ?= ribo-e2e
E2E_APP ?= /var/tmp/ribo-e2e/app
RIBO := bin/ribo

.PHONY: all setup demo test test-unit bench clean

all: setup

setup:
	@bin/install-deps

# The demo's build context needs a static busybox; it is copied, not committed.
demo: setup
	@cp /bin/busybox fixtures/hello/busybox
	$(RIBO) build -t hello:latest fixtures/hello
	$(RIBO) run --rm hello:latest
	$(RIBO) images

# As root the end-to-end tests run ribo as an unprivileged user made for them;
# as another user they run ribo as that user (who then needs /etc/subuid ranges).
test:
	@bin/install-deps --test
	@cp /bin/busybox fixtures/hello/busybox
	@if [ "$$(id -u)" -eq 0 ]; then \
	  test/setup/prepare-e2e.sh $(E2E_USER) $(E2E_APP) && \
	  RIBO_E2E_USER=$(E2E_USER) RIBO_E2E_APP=$(E2E_APP) npm test --silent; \
	else npm test --silent; fi

test-unit: setup
	npm test --silent -- dist/test/dockerfile dist/test/layer dist/test/snapshot dist/test/store dist/test/registry

# Benchmarks print figures; no test asserts on time. Each script is one line.
bench:
	@bin/install-deps --bench
	bench/build-bench.sh
	node bench/layer-bench.mjs
	bench/pull-bench.sh
	bench/first-run-bench.sh
	bench/run-bench.sh
	bench/run-bench.sh 20 host
	bench/run-bench.sh 20 none
	bench/publish-bench.sh
	bench/archive-bench.sh
	bench/platform-bench.sh

clean:
	rm -rf dist fixtures/hello/busybox
