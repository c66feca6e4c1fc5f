# rewire — build and test.

GO ?= go

.PHONY: build test test-short fuzz bench vet

build:
	$(GO) build -o rewire ./cmd/rewire

# The full suite: unit, fuzz seeds, end-to-end with stock clients, crash
# tests. End-to-end tests skip a client that is not installed unless
# REWIRE_E2E_REQUIRED is set (as .ci/run does).
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

# Quick suite: fewer crash rounds, no long end-to-end runs.
test-short:
	$(GO) test -short -count=1 ./...

# Run each fuzz target briefly.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$pkg || exit 1; \
		done; \
	done

bench:
	$(GO) run ./bench/core
