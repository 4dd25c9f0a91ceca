# cgnat -- top-level entry points.
# A new user on a fresh Debian/Ubuntu machine, as root, needs only:
#   make demo    install dependencies, build, and run a narrated lab demo
#   make test    install dependencies, then the whole test suite (what CI runs)
# `make help` lists every target.

SHELL := /bin/bash
.DEFAULT_GOAL := help
# rustup installs into ~/.cargo/bin, which a non-login shell may not have on PATH
export PATH := $(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo
FUZZ_TARGET ?= packet_path
FUZZ_SECONDS ?= 60

.PHONY: help deps build test demo lab-up lab-down fuzz soak bench clean

help: ## list the targets
	@echo "cgnat -- carrier-grade NAT44 on DPDK. Targets:"
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | \
		awk -F':.*## ' '{ printf "  make %-9s %s\n", $$1, $$2 }'

deps: ## install build/test/lab dependencies with apt and a Rust toolchain (root; idempotent)
	@lab/deps.sh

build: ## cargo build --release --workspace
	$(CARGO) build --release --workspace

test: deps ## fmt, clippy, unit + scenario + DPDK tests, release build, lab tests; summary at the end
	@lab/test-suite.sh

demo: deps ## build, bring the lab up, show cgnatd translating TCP/UDP/ICMP, tear down
	@$(MAKE) --no-print-directory build
	@lab/demo.sh

lab-up: ## create the network-namespace lab (lab/up.sh; root)
	@lab/up.sh

lab-down: ## remove the network-namespace lab (lab/down.sh; root)
	@lab/down.sh

fuzz: ## long fuzz run: FUZZ_TARGET (packet_path) for FUZZ_SECONDS (60); `make test` runs every target 10 s
	@test -f fuzz/Cargo.toml || { echo "fuzz/Cargo.toml not found: no fuzz targets yet"; exit 1; }
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	cd fuzz && CARGO_TARGET_DIR=$(CURDIR)/fuzz/target RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $(FUZZ_TARGET) -- -max_total_time=$(FUZZ_SECONDS) \
		$$(test -f dict/$(FUZZ_TARGET).dict && echo -dict=dict/$(FUZZ_TARGET).dict)

soak: ## churn soak with an injectable clock (300 rounds = 35 simulated hours, ~30 s): no leaks, no heap growth; writes target/soak.json
	cargo run --release -p benches --bin soak | tee target/soak.json

bench: deps ## benchmarks: criterion + built-in generator + capacity; writes target/bench/report.json (docs/benchmarks.md)
	@bash benches/run.sh

clean: ## remove the lab (if root), lab/run/ and cargo's target/
	@if [ "$$(id -u)" -eq 0 ]; then lab/down.sh --quiet || true; fi
	rm -rf lab/run
	$(CARGO) clean
