# Every target is a thin alias; the commands are the documented ones.
GO ?= go

.PHONY: run test bench chaos fmt vet docker-config

run:
	$(GO) run ./cmd/queueless

test:
	./scripts/test.sh

# The Go benchmarks and the load benchmarks; writes docs/BENCHMARKS.md.
bench:
	./scripts/bench.sh

fmt:
	gofmt -s -l -w .

vet:
	$(GO) vet ./...

# Validates docker-compose.yml with Compose v2 (docker compose) or, failing
# that, the standalone v1 docker-compose.
docker-config:
	@if docker compose version >/dev/null 2>&1; then \
		docker compose config -q; \
	elif command -v docker-compose >/dev/null 2>&1; then \
		docker-compose config -q; \
	else \
		echo "docker-config: neither 'docker compose' nor docker-compose is installed" >&2; exit 1; \
	fi

# The chaos suite's long form: three instances behind nginx over a Redis
# Cluster, a larger crowd, every fault (chaos/). The short form runs in
# ./scripts/test.sh with every other test.
chaos:
	CHAOS_LONG=1 $(GO) test -count=1 -v -timeout 30m -run TestChaos ./chaos/
