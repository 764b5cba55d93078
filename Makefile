# The two commands a newcomer needs are `make demo` and `make test`.
# Targets still to come (owned by others): demo, install, docs.
SHELL := /usr/bin/env bash
CARGO ?= cargo

.PHONY: tools build test lint clean-tools docs bench

# Terraform 1.0.3 and the Go null provider, into tools/ (git-ignored).
tools:
	@bash scripts/install-tools.sh

build:
	$(CARGO) build --release --bins

# Integration tests drive the real terraform from tools/, so install it first.
test: tools lint
	$(CARGO) test --all-targets

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

clean-tools:
	rm -rf tools

# Regenerates docs/ from the schema descriptions and examples/ (a test fails on drift).
docs:
	UPDATE_DOCS=1 $(CARGO) test --test docs

# Ours vs the Go null provider on Terraform 1.0.3 (see README.md, Benchmark). Installs
# its tools, builds release, prints a table. BENCH_RUNS=N sets the runs (default 5).
bench:
	python3 bench/bench.py
