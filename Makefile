# The developer commands of terraform-provider-mrs (tools, build, test, lint, docs, demo, install, bench); start with `make demo` and `make test`.
SHELL := /usr/bin/env bash
CARGO ?= cargo

.PHONY: tools build test lint clean-tools docs demo install bench

# Terraform 1.0.3 and the Go null provider, into tools/ (git-ignored).
tools:
	@bash scripts/install-tools.sh

build:
	$(CARGO) build --release --bins

# Integration tests drive the real terraform from tools/, so install it first.
test: tools lint
	$(CARGO) test --all-targets

lint: tools
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	tools/bin/terraform fmt -check -recursive examples

clean-tools:
	rm -rf tools

# Regenerates docs/ from the schema descriptions and examples/ (a test fails on drift).
docs:
	UPDATE_DOCS=1 $(CARGO) test --test docs

# Builds, starts mrs-sim and walks through the provider with the real Terraform.
demo:
	@bash scripts/demo.sh

# Puts the release provider into the user's implied local mirror, so `terraform init`
# finds `terraform.local/mrs/mrs` in any configuration on this machine.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
PLUGIN_DIR := $(HOME)/.terraform.d/plugins/terraform.local/mrs/mrs/$(VERSION)/linux_amd64
install: build
	mkdir -p "$(PLUGIN_DIR)"
	cp "$${CARGO_TARGET_DIR:-target}/release/terraform-provider-mrs" "$(PLUGIN_DIR)/terraform-provider-mrs_v$(VERSION)"
	@echo "installed terraform.local/mrs/mrs $(VERSION) into $(PLUGIN_DIR)"

# Ours vs the Go null provider on Terraform 1.0.3, then ours on a delay line against the
# least time its API calls can take (see README.md, Benchmark). Installs its tools, builds
# release, prints both tables. BENCH_RUNS=N sets the runs (default 5); BENCH_ONLY=delay
# (or `python3 bench/bench.py --delay-line`) runs only the delay line.
bench:
	python3 bench/bench.py
