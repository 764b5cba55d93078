# The developer commands of terraform-provider-mrs (tools, build, test, lint, docs, demo, install, bench); start with `make demo` and `make test`.
SHELL := /usr/bin/env bash
CARGO ?= cargo

.PHONY: tools build test lint clean-tools docs demo install bench release

# Terraform 1.0.3 and the Go null provider, into tools/ (git-ignored).
tools:
	@bash scripts/install-tools.sh

build:
	$(CARGO) build --release --bins

# Every test once on Terraform 1.0.3 (tools/), and every test that drives Terraform again,
# in parallel, on the newest Terraform of the machine (TERRAFORM_BIN, else `terraform` on
# PATH when newer); the summary names the versions that ran (scripts/run-tests.py).
test: tools lint
	CARGO=$(CARGO) python3 scripts/run-tests.py

# Terraform 1.0.3 formats the .tf files; a newer Terraform (1.6+) also checks the
# .tftest.hcl files of examples/ when there is one on PATH or in TERRAFORM_BIN.
lint: tools
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	tools/bin/terraform fmt -check -recursive examples
	@newer="$${TERRAFORM_BIN:-$$(command -v terraform || true)}"; \
	if [ -n "$$newer" ] && "$$newer" fmt -help 2>&1 | grep -q tftest; then \
		echo "$$newer fmt -check -recursive examples"; \
		"$$newer" fmt -check -recursive examples; \
	else \
		echo "lint: no Terraform >= 1.6 found: examples/**/*.tftest.hcl not format-checked"; \
	fi

clean-tools:
	rm -rf tools

# Regenerates docs/ from the schema descriptions and examples/ (a test fails on drift).
docs:
	UPDATE_DOCS=1 $(CARGO) test --test docs

# Builds, starts mrs-sim and walks through the provider with the real Terraform.
demo:
	@bash scripts/demo.sh

# The registry release of this platform into target/dist: the zip, SHA256SUMS, its GPG
# signature, the manifest, the public key and a mirror/ tree (scripts/release.sh says
# which variables it reads, e.g. MRS_RELEASE_GPG_KEY for a real signing key).
release:
	@bash scripts/release.sh

# Puts the release provider into the user's implied local mirror, so `terraform init`
# finds `terraform.local/mrs/mrs` in any configuration on this machine.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
PLUGIN_DIR := $(HOME)/.terraform.d/plugins/terraform.local/mrs/mrs/$(VERSION)/linux_amd64
install: build
	mkdir -p "$(PLUGIN_DIR)"
	cp "$${CARGO_TARGET_DIR:-target}/release/terraform-provider-mrs" "$(PLUGIN_DIR)/terraform-provider-mrs_v$(VERSION)"
	@echo "installed terraform.local/mrs/mrs $(VERSION) into $(PLUGIN_DIR)"

# Ours vs the Go null provider on Terraform 1.0.3 and on the newest Terraform of the
# machine (as `make test` finds it), then ours on a delay line against the least time its
# API calls can take (see docs/benchmarks.md). Installs its tools, builds
# release, prints both tables. BENCH_RUNS=N sets the runs (default 5); BENCH_ONLY=delay
# (or `python3 bench/bench.py --delay-line`) runs only the delay line.
bench:
	python3 bench/bench.py
