#!/usr/bin/env bash
# CPU per join, per process, at fixed open-loop join rates (issue 16's
# accounting in docs/BENCHMARKS.md, "The open-loop join sweep").
#
#   scripts/cpu-per-join.sh LOADGEN LABEL RATE...
#   e.g. go build -o /tmp/lg ./cmd/loadgen && scripts/cpu-per-join.sh /tmp/lg main 4000 8000
#
# Starts `LOADGEN serve` in production mode as the sweep does (throttles
# off, JOIN_MAX_IN_FLIGHT=100000) on a scratch database of its own
# (dropped at the end, with its Redis keys), warms it with 1,000 joins,
# then for each rate: CHECKPOINT, `LOADGEN join -rate R -total 5R
# -addresses 5000`, and the user+system CPU of the server, of every
# postgres process, of the scratch database's backends and of
# redis-server (/proc/<pid>/stat before and after) and of the driver
# (/usr/bin/time). Run it under the benchmark lock on a shared machine.
# ADMIN_DATABASE_URL and REDIS_URL name the services (defaults: local).
set -u
EXE=$1 LABEL=$2
shift 2
ADMIN=${ADMIN_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
REDIS=${REDIS_URL:-redis://127.0.0.1:6379/0}
DBN=cpujoin_${LABEL//[^a-zA-Z0-9_]/_}
DB=${ADMIN%%/postgres\?*}/$DBN?sslmode=disable
PORT=${PORT:-18671}
TOKEN=cpujointoken0123456789abcdef
WORK=$(mktemp -d)
psql "$ADMIN" -qXc "DROP DATABASE IF EXISTS $DBN WITH (FORCE)" -c "CREATE DATABASE $DBN" >/dev/null 2>&1
env ADDR=127.0.0.1:$PORT DATABASE_URL="$DB" REDIS_URL="$REDIS" REDIS_PREFIX=$DBN: ADMIN_TOKEN=$TOKEN \
	TRUSTED_PROXIES=127.0.0.1/32 LOG_FORMAT=json LOG_LEVEL=warn JOIN_RATE=off JOIN_PHONE_RATE=off \
	JOIN_ADDRESS_RATE=off JOIN_MAX_IN_FLIGHT=100000 "$EXE" serve >"$WORK/server.log" 2>&1 &
SRV=$!
cleanup() {
	kill "$SRV" 2>/dev/null
	wait "$SRV" 2>/dev/null
	psql "$ADMIN" -qXc "DROP DATABASE IF EXISTS $DBN WITH (FORCE)" >/dev/null
	redis-cli -u "$REDIS" --scan --pattern "$DBN:*" | xargs -r redis-cli -u "$REDIS" del >/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
sumticks() { local s=0 t; for p in "$@"; do t=$(ticks "$p"); s=$((s + t)); done; echo $s; }
pgticks() { sumticks $(pgrep -x postgres); }
dbticks() { sumticks $(psql "$ADMIN" -AtXc "select pid from pg_stat_activity where datname='$DBN'"); }
RP=$(pgrep -x redis-server | head -1)
HZ=$(getconf CLK_TCK)
"$EXE" join -url "http://127.0.0.1:$PORT" -admin-token $TOKEN -rate 500 -total 1000 -addresses 5000 -progress 0 >/dev/null 2>&1
for R in "$@"; do
	psql "$DB" -qXc "CHECKPOINT" >/dev/null
	s0=$(ticks $SRV) p0=$(pgticks) d0=$(dbticks) r0=$(ticks "$RP") t0=$(date +%s.%N)
	/usr/bin/time -f "%U %S" -o "$WORK/driver.txt" "$EXE" join -url "http://127.0.0.1:$PORT" -admin-token $TOKEN \
		-rate "$R" -total $((5 * R)) -addresses 5000 -progress 0 -json >"$WORK/join.json" 2>"$WORK/join.err"
	t1=$(date +%s.%N) s1=$(ticks $SRV) p1=$(pgticks) d1=$(dbticks) r1=$(ticks "$RP")
	drv=$(awk '{print $1+$2}' "$WORK/driver.txt")
	python3 - "$WORK/join.json" <<PY
import json, sys
def find(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k in ("p50_ms", "p99_ms"): yield k, v
            yield from find(v)
    elif isinstance(o, list):
        for v in o: yield from find(v)
lat = " ".join("%s=%s" % kv for kv in list(find(json.load(open(sys.argv[1]))))[:2])
w, hz, n = $t1 - $t0, $HZ, 5 * $R
c = lambda a, b: (b - a) / hz
srv, pg, db, rd, drv = c($s0, $s1), c($p0, $p1), c($d0, $d1), c($r0, $r1), $drv
tot = srv + pg + rd + drv
print("$LABEL rate $R wall %.2fs | CPU server %.2f postgres %.2f (scratch db backends %.2f) redis %.2f driver %.2f total %.2f"
      " | us/join server %.0f postgres %.0f redis %.0f driver %.0f total %.0f | %s"
      % (w, srv/w, pg/w, db/w, rd/w, drv/w, tot/w, srv/n*1e6, pg/n*1e6, rd/n*1e6, drv/n*1e6, tot/n*1e6, lat))
PY
done
