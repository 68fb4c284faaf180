#!/usr/bin/env bash
# bench.sh runs the benchmarks and writes their sections of
# docs/BENCHMARKS.md: the Go benchmarks (go test -bench), then the load
# benchmarks (loadgen bench): hot institution joins against pgbench, live
# fan-out against a minimal broadcast server, a flash crowd, and memory per
# idle WebSocket, the open-loop sweep, and the flash crowd with and without
# phones (texts as River jobs, then their drain: -targets phones). Each
# leaves the rest of the file as it is.
# The Go benchmarks include BenchmarkStatsPostgres (package stats): it seeds
# a year of one office's history and times its stats over 1, 30 and 365
# days (docs/BENCHMARKS.md, "Stats on a year of history").
#
# It needs what ./scripts/test.sh needs (PostgreSQL and Redis answering at
# TEST_DATABASE_URL and TEST_REDIS_URL, 127.0.0.1 by default) plus pgbench
# (Debian: postgresql or postgresql-contrib). The load benchmarks make a
# scratch database and a Redis prefix of their own and remove them; they
# take about ten minutes. The fan-out's reference is Centrifugo when
# CENTRIFUGO_BIN names a binary built by hand from its public source (how:
# docs/BENCHMARKS.md, "Fan-out against Centrifugo"); nothing here fetches
# it, and without it the report says it was not built. Extra arguments go
# to loadgen bench, e.g.
#   ./scripts/bench.sh -runs 5 -targets hot,flash
#   ./scripts/bench.sh -scale 0.1 -runs 1 -out ''   (a quick rehearsal, printed)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}

# 15,000 WebSockets in one server process need as many descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 16384 ]; then
	echo "bench.sh: only $(ulimit -n) open files allowed; the memory benchmark needs 16384 (ulimit -n)" >&2
	exit 1
fi

cpus=$(nproc)
load=$(cut -d' ' -f1 /proc/loadavg)
echo "==> $(uptime)"
if awk -v l="$load" -v c="$cpus" 'BEGIN { exit !(l > c) }'; then
	echo "    the 1-minute load ($load) exceeds the CPUs ($cpus): figures will be noisy; the report records the load"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "==> go build ./cmd/loadgen"
go build -o "$tmp/loadgen" ./cmd/loadgen

gobench_cmd="go test -run '^\$' -bench . -benchmem ./..."
gobench_args=()
# SKIP_GOBENCH=1 runs only the load benchmarks (e.g. SKIP_GOBENCH=1
# ./scripts/bench.sh -targets sweep), leaving the Go benchmarks' section.
if [ -z "${SKIP_GOBENCH:-}" ]; then
	echo "==> $gobench_cmd"
	go test -run '^$' -bench . -benchmem ./... | tee "$tmp/gobench.txt"
	gobench_args=(-gobench "$tmp/gobench.txt" -gobench-command "$gobench_cmd")
fi

command="make bench"
if [ $# -gt 0 ]; then
	command="./scripts/bench.sh $*"
fi
echo "==> loadgen bench $*"
# Server logs and profiles go to $tmp and are removed at exit; pass
# -workdir DIR to keep them (for go tool pprof).
"$tmp/loadgen" bench -workdir "$tmp/work" "${gobench_args[@]}" -command "$command" "$@"
