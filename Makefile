# The two commands a newcomer needs are `make demo` and `make test`.
.PHONY: test
test:
	cargo test --all-targets
