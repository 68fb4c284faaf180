#!/usr/bin/env bash
# test.sh is the one test command: it makes sure PostgreSQL and Redis are
# installed, running and answering (and Chromium and Node.js, for the
# browser tests), sets TEST_DATABASE_URL, TEST_REDIS_URL and PG_BIN, then
# runs go vet, every Go test under -race, and the k6 script check. Extra
# arguments go to `go test`, e.g. ./scripts/test.sh -run TestJoin.
#
# Installing and starting services needs root (as in CI); otherwise it tells
# you what to do. Set TEST_DATABASE_URL / TEST_REDIS_URL to use servers of
# your own; the script then only waits for them to answer.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

DEFAULT_DATABASE_URL='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'
DEFAULT_REDIS_URL='redis://127.0.0.1:6379/0'
WAIT_SECONDS=60

step() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() {
	printf '\ntest.sh: %s\n' "$*" >&2
	exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

apt_updated=0
# apt_install PACKAGE... installs Debian packages, as root only.
apt_install() {
	is_root || die "missing $*: install it (sudo apt-get install $*) or run this script as root"
	have apt-get || die "missing $*, and no apt-get to install it with"
	export DEBIAN_FRONTEND=noninteractive
	if [ "$apt_updated" -eq 0 ]; then
		note "apt-get update"
		apt-get update -qq </dev/null
		apt_updated=1
	fi
	note "apt-get install $*"
	apt-get install -y -qq --no-install-recommends "$@" </dev/null >/dev/null
}

# pg_bin_dir prints the newest /usr/lib/postgresql/*/bin holding the server.
pg_bin_dir() {
	local dir
	for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5 -rn); do
		if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
			printf '%s\n' "$dir"
			return 0
		fi
	done
	return 1
}

# wait_for DESCRIPTION COMMAND... retries COMMAND for WAIT_SECONDS.
wait_for() {
	local what=$1 deadline=$((SECONDS + WAIT_SECONDS))
	shift
	until "$@" >/dev/null 2>&1; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			return 1
		fi
		sleep 0.5
	done
	note "$what is answering"
}

ensure_tools() {
	step "Tools"
	local pkgs=()
	if ! have pg_ctlcluster || ! pg_bin_dir >/dev/null; then
		pkgs+=(postgresql)
	fi
	if ! have psql || ! have pg_isready; then
		pkgs+=(postgresql-client)
	fi
	if ! have redis-server; then
		pkgs+=(redis-server)
	fi
	if ! have redis-cli; then
		pkgs+=(redis-tools)
	fi
	# The chaos suite (chaos/) puts Debian's nginx in front of three
	# instances, with deploy/nginx.conf.
	if ! have nginx && [ ! -x /usr/sbin/nginx ]; then
		pkgs+=(nginx)
	fi
	# The browser tests (web/browser_test.go) drive Debian's Chromium with
	# playwright-core, which they npm ci into web/e2e when it is missing.
	if ! have chromium; then
		pkgs+=(chromium)
	fi
	if ! have node || ! have npm; then
		pkgs+=(nodejs npm)
	fi
	# deploy/deploy_test.go checks the Prometheus rules with promtool, which
	# Debian ships in its prometheus package.
	if ! have promtool; then
		pkgs+=(prometheus)
	fi
	if [ ${#pkgs[@]} -gt 0 ]; then
		if is_root; then
			apt_install "${pkgs[@]}"
		else
			note "missing packages: ${pkgs[*]} (not root, so not installing: sudo apt-get install ${pkgs[*]})"
		fi
	fi
	if PG_BIN=${PG_BIN:-$(pg_bin_dir)}; then
		export PG_BIN
		note "PG_BIN=$PG_BIN"
	else
		unset PG_BIN
		note "no PostgreSQL server binaries: tests of a private PostgreSQL will skip (and fail in CI)"
	fi
	if have redis-server; then
		note "redis-server: $(command -v redis-server)"
	else
		note "no redis-server: tests of a private Redis will skip (and fail in CI)"
	fi
	if have promtool; then
		note "promtool: $(command -v promtool)"
	else
		note "no promtool: the rule checks of deploy/ will skip (and fail in CI)"
	fi
	if have chromium; then
		note "chromium: $(command -v chromium)"
	else
		note "no chromium: the browser tests will skip (and fail in CI)"
	fi
	if ! have go && [ -x /usr/local/go/bin/go ]; then
		PATH=$PATH:/usr/local/go/bin
	fi
	have go || die "go is not on PATH"
	note "go: $(go version)"
}

# pg_works URL connects and runs a query, never prompting for a password.
pg_works() { PGCONNECT_TIMEOUT=3 psql -w -X -q -At -d "$1" -c 'SELECT 1' >/dev/null 2>&1; }

start_postgres() {
	local version
	have pg_ctlcluster || die "PostgreSQL is not answering on 127.0.0.1:5432 and pg_ctlcluster is missing: apt-get install postgresql, or set TEST_DATABASE_URL"
	if [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
		is_root || die "PostgreSQL has no cluster; as root this script would create one"
		[ -n "${PG_BIN:-}" ] || die "PostgreSQL server binaries are missing: apt-get install postgresql"
		version=$(basename "$(dirname "$PG_BIN")")
		note "pg_createcluster $version main"
		pg_createcluster "$version" main >/dev/null
	fi
	version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -rn | head -n1)
	note "pg_ctlcluster $version main start"
	pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
		die "could not start PostgreSQL $version (as root: pg_ctlcluster --skip-systemctl-redirect $version main start)"
}

ensure_postgres() {
	step "PostgreSQL"
	if ! have psql || ! have pg_isready; then
		die "psql and pg_isready are missing: apt-get install postgresql-client (or run this script as root)"
	fi
	if [ -n "${TEST_DATABASE_URL:-}" ]; then
		note "using TEST_DATABASE_URL from the environment"
		wait_for "PostgreSQL" pg_works "$TEST_DATABASE_URL" ||
			die "TEST_DATABASE_URL does not answer within ${WAIT_SECONDS}s"
		return
	fi
	if ! pg_isready -q -h 127.0.0.1 -p 5432; then
		start_postgres
	fi
	wait_for "PostgreSQL on 127.0.0.1:5432" pg_isready -q -h 127.0.0.1 -p 5432 ||
		die "PostgreSQL is not answering on 127.0.0.1:5432 after ${WAIT_SECONDS}s (log: /var/log/postgresql/)"

	TEST_DATABASE_URL=$DEFAULT_DATABASE_URL
	if ! pg_works "$TEST_DATABASE_URL"; then
		# A fresh Debian cluster asks for a password over TCP, and user
		# postgres has none: give it one, over the local socket.
		local with_password='postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable'
		if ! pg_works "$with_password"; then
			is_root || die "cannot log in as postgres on 127.0.0.1:5432: set TEST_DATABASE_URL"
			note "setting a password for user postgres"
			runuser -u postgres -- psql -X -q -c "ALTER USER postgres PASSWORD 'postgres'" </dev/null >/dev/null
		fi
		TEST_DATABASE_URL=$with_password
		pg_works "$TEST_DATABASE_URL" || die "cannot log in to PostgreSQL as postgres on 127.0.0.1:5432"
	fi
	export TEST_DATABASE_URL
}

redis_works() { redis-cli -u "$1" ping 2>/dev/null | grep -qx PONG; }

ensure_redis() {
	step "Redis"
	have redis-cli || die "redis-cli is missing: apt-get install redis-tools (or run this script as root)"
	if [ -n "${TEST_REDIS_URL:-}" ]; then
		note "using TEST_REDIS_URL from the environment"
		wait_for "Redis" redis_works "$TEST_REDIS_URL" ||
			die "TEST_REDIS_URL does not answer within ${WAIT_SECONDS}s"
		return
	fi
	TEST_REDIS_URL=$DEFAULT_REDIS_URL
	if ! redis_works "$TEST_REDIS_URL"; then
		is_root || die "Redis is not answering on 127.0.0.1:6379: start it, or set TEST_REDIS_URL"
		have redis-server || die "redis-server is missing: apt-get install redis-server"
		note "starting redis-server on 127.0.0.1:6379"
		mkdir -p /var/lib/redis /var/log/redis
		redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
			--dir /var/lib/redis --logfile /var/log/redis/ci.log ||
			die "could not start redis-server (log: /var/log/redis/ci.log)"
	fi
	wait_for "Redis on 127.0.0.1:6379" redis_works "$TEST_REDIS_URL" ||
		die "Redis is not answering on 127.0.0.1:6379 after ${WAIT_SECONDS}s (log: /var/log/redis/ci.log)"
	export TEST_REDIS_URL
}

k6_scripts_exist() {
	local f
	for f in loadtest/k6/*.js; do
		[ -e "$f" ] && return 0
	done
	return 1
}

ensure_tools
ensure_postgres
ensure_redis
if k6_scripts_exist && ! have node; then
	step "Node.js (for the k6 script check)"
	apt_install nodejs
fi

step "go vet ./..."
go vet ./...

step "go test -race -count=1 -timeout 15m ./... $*"
note "TEST_DATABASE_URL=$TEST_DATABASE_URL"
note "TEST_REDIS_URL=$TEST_REDIS_URL"
go test -race -count=1 -timeout 15m ./... "$@"

if [ -d loadtest/k6 ]; then
	step "k6 scripts"
	./scripts/check-k6.sh
fi

step "all checks passed"
