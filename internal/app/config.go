package app

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
)

// Config is every setting of the server, read from the environment.
type Config struct {
	Addr            string
	DatabaseURL     string
	RedisURL        string
	RedisClusterURL string
	RedisPrefix     string
	AdminToken      string
	GracePeriod     time.Duration
	AutoMigrate     bool
	SweepInterval   time.Duration
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration
	DrainSpread     time.Duration
	StartupTimeout  time.Duration
	DBMaxConns      int32
	LogFormat       string
	LogLevel        string
	TrustedProxies  []*net.IPNet
	AllowedOrigins  []string
	JoinRate        limiter.Rate // per client address per institution; a zero Limit is no limit
	JoinPhoneRate   limiter.Rate // per phone number; a zero Limit is no limit
	JoinAddressRate limiter.Rate // per client address, whatever the institution; a zero Limit is no limit
	JoinMaxInFlight int          // joins one instance works on at once; 0 is no bound
	WSMaxPerIP      int          // live connections per client address; 0 is no cap
	WSMaxConns      int          // live connections of this instance; 0 is no cap
	Sync            SyncConfig   // links to institutions' own systems, seeding (sync.go)

	// JoinLimiterTimeout bounds one call to the join throttle's store; 0 is
	// the throttle's default (1s). No environment variable: tests that
	// assert exact shared counts under load set it, so that a slow but
	// answering Redis is waited for rather than stood in for.
	JoinLimiterTimeout time.Duration
	Jobs               JobsConfig   // durable jobs, webhooks (jobs.go)
	Notify             NotifyConfig // texts and web pushes (notify.go)
	Day                DayConfig    // the office day: default time zone, day job (day.go)

	// Alerts tunes the alert evaluation (alerts.go).
	Alerts AlertsConfig
}

// envVar describes one variable for the README and for errors.
type envVar struct {
	name, def, help string
	set             func(c *Config, v string) error
}

var envVars = []envVar{
	{"ADDR", ":8080", "listen address", func(c *Config, v string) error { c.Addr = v; return nil }},
	{"DATABASE_URL", "", "PostgreSQL URL; unset: embedded mode (memory store)", func(c *Config, v string) error { c.DatabaseURL = v; return nil }},
	{"REDIS_URL", "", "Redis URL; unset: in-process pub/sub and limiter", func(c *Config, v string) error { c.RedisURL = v; return nil }},
	{"REDIS_CLUSTER_URL", "", "Redis Cluster, instead of REDIS_URL, in go-redis's cluster URL form: redis://host1:port?addr=host2:port&addr=host3:port (name several nodes: any one finds the rest). Live channels use sharded pub/sub (Redis 7)", func(c *Config, v string) error {
		if v == "" {
			c.RedisClusterURL = ""
			return nil
		}
		if _, err := redis.ParseClusterURL(v); err != nil {
			return err
		}
		c.RedisClusterURL = v
		return nil
	}},
	{"REDIS_PREFIX", "queueless:", "prefix of every Redis key and channel (several deployments can share one Redis)", func(c *Config, v string) error { c.RedisPrefix = v; return nil }},
	{"ADMIN_TOKEN", "", "admin bearer token, 16 to 256 characters, like the output of `openssl rand -hex 32`; placeholders (change-me...) are refused; embedded mode generates one when unset", adminTokenVar},
	{"GRACE_PERIOD", "180s", "time a called ticket has to check in (1s..24h)", durationVar(func(c *Config) *time.Duration { return &c.GracePeriod }, time.Second, 24*time.Hour)},
	{"AUTO_MIGRATE", "true", "apply migrations at start-up (under an advisory lock); false: refuse to start on an old schema", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("must be true or false")
		}
		c.AutoMigrate = b
		return nil
	}},
	{"SWEEP_INTERVAL", "1s", "how often expired tickets are looked for (100ms..1m)", durationVar(func(c *Config) *time.Duration { return &c.SweepInterval }, 100*time.Millisecond, time.Minute)},
	{"REQUEST_TIMEOUT", "10s", "deadline of every HTTP request (100ms..5m)", durationVar(func(c *Config) *time.Duration { return &c.RequestTimeout }, 100*time.Millisecond, 5*time.Minute)},
	{"SHUTDOWN_TIMEOUT", "15s", "time allowed for a graceful shutdown (1s..5m)", durationVar(func(c *Config) *time.Duration { return &c.ShutdownTimeout }, time.Second, 5*time.Minute)},
	{"DRAIN_SPREAD", "3s", "on SIGTERM, the time over which live clients are told to reconnect elsewhere (close code 1012), so that they do not all land on the other instances at once (0s..1m; at most half of SHUTDOWN_TIMEOUT is used)", durationVar(func(c *Config) *time.Duration { return &c.DrainSpread }, 0, time.Minute)},
	{"STARTUP_TIMEOUT", "30s", "how long start-up waits for PostgreSQL and Redis (1s..10m)", durationVar(func(c *Config) *time.Duration { return &c.StartupTimeout }, time.Second, 10*time.Minute)},
	{"DB_MAX_CONNS", "20", "PostgreSQL pool size (1..1000)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return errors.New("must be an integer from 1 to 1000")
		}
		c.DBMaxConns = int32(n)
		return nil
	}},
	{"LOG_FORMAT", "", "json or text; unset: text on a terminal, else json", func(c *Config, v string) error {
		if v != "" && v != "json" && v != "text" {
			return errors.New("must be json or text")
		}
		c.LogFormat = v
		return nil
	}},
	{"LOG_LEVEL", "info", "debug, info, warn or error", func(c *Config, v string) error {
		switch v {
		case "debug", "info", "warn", "error":
			c.LogLevel = v
			return nil
		}
		return errors.New("must be debug, info, warn or error")
	}},
	{"TRUSTED_PROXIES", "", "comma-separated CIDRs whose X-Forwarded-For is believed", func(c *Config, v string) error {
		c.TrustedProxies = nil
		for _, part := range splitList(v) {
			if !strings.Contains(part, "/") {
				if strings.Contains(part, ":") {
					part += "/128"
				} else {
					part += "/32"
				}
			}
			_, n, err := net.ParseCIDR(part)
			if err != nil {
				return fmt.Errorf("%q is not a CIDR", part)
			}
			c.TrustedProxies = append(c.TrustedProxies, n)
		}
		return nil
	}},
	{"ALLOWED_ORIGINS", "", "comma-separated origins allowed for CORS and WebSockets (same origin always is)", func(c *Config, v string) error {
		c.AllowedOrigins = splitList(v)
		return nil
	}},
	{"WS_MAX_PER_IP", "50", "most live WebSocket connections from one client address, an IPv6 one counted by its /64 (0..100000, 0: no cap); past it 429", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100000 {
			return errors.New("must be an integer from 0 to 100000")
		}
		c.WSMaxPerIP = n
		return nil
	}},
	{"WS_MAX_CONNS", "16000", "most live WebSocket connections one instance holds (0..1000000, 0: no cap); past it an upgrade gets 503 with Retry-After. Keep it under the process's open-file limit, less what PostgreSQL, Redis and HTTP need", intVar(func(c *Config) *int { return &c.WSMaxConns }, 0, 1_000_000)},
	{"JOIN_RATE", "10-M", "joins allowed per client address per institution, as COUNT-PERIOD with PERIOD one of S, M, H, D (10-M: 10 a minute, COUNT 1..1000000); counted in Redis by every instance together when REDIS_URL or REDIS_CLUSTER_URL is set, else in memory; off: no limit. Phones behind carrier NAT share an address: keep it generous", rateVar(func(c *Config) *limiter.Rate { return &c.JoinRate })},
	{"JOIN_ADDRESS_RATE", "60-M", "joins allowed per client address across all institutions (to institutions that exist or not), as COUNT-PERIOD like JOIN_RATE; off: no limit. It bounds what one address may try, and the throttle's keys, however many institution ids it names", rateVar(func(c *Config) *limiter.Rate { return &c.JoinAddressRate })},
	{"JOIN_PHONE_RATE", "10-H", "joins allowed per phone number, whatever the institution, as COUNT-PERIOD like JOIN_RATE; off: no limit", rateVar(func(c *Config) *limiter.Rate { return &c.JoinPhoneRate })},
	{"JOIN_MAX_IN_FLIGHT", "256", "joins one instance works on at once (1..100000); beyond it a join gets 503 with Retry-After at once instead of queueing for the database", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			return errors.New("must be an integer from 1 to 100000")
		}
		c.JoinMaxInFlight = n
		return nil
	}},
	{"SYNC_TICK", "1s", "how often each instance lists the links, picks up new ones and tries their poll leases (100ms..1m)", durationVar(func(c *Config) *time.Duration { return &c.Sync.Tick }, 100*time.Millisecond, time.Minute)},
	{"SYNC_LEASE_TTL", "15s", "how long a poll lease lasts unrenewed: how soon another instance takes over a link whose poller died (1s..10m; at least twice SYNC_TIMEOUT)", durationVar(func(c *Config) *time.Duration { return &c.Sync.LeaseTTL }, time.Second, 10*time.Minute)},
	{"SYNC_TIMEOUT", "5s", "deadline of one poll of an outside queue (100ms..1m)", durationVar(func(c *Config) *time.Duration { return &c.Sync.Timeout }, 100*time.Millisecond, time.Minute)},
	{"SYNC_BACKOFF_MAX", "60s", "longest wait between failed polls; waits double from the poll interval, with jitter (100ms..1h)", durationVar(func(c *Config) *time.Duration { return &c.Sync.BackoffMax }, 100*time.Millisecond, time.Hour)},
	{"SYNC_BREAKER_FAILURES", "5", "consecutive failed polls that open a link's circuit breaker (1..1000)", intVar(func(c *Config) *int { return &c.Sync.BreakerFailures }, 1, 1000)},
	{"SYNC_BREAKER_OPEN", "30s", "how long an open circuit breaker refuses polls before one trial (100ms..1h)", durationVar(func(c *Config) *time.Duration { return &c.Sync.BreakerOpen }, 100*time.Millisecond, time.Hour)},
	{"SEED_TICKETS", "0", "embedded mode: waiting tickets each demo institution starts with (0..100000); default of `queueless seed -tickets`", intVar(func(c *Config) *int { return &c.Sync.SeedTickets }, 0, 100000)},
	{"SEED_MOCKAPI_URL", "", "embedded mode: import the institutions of this mockapi at start-up and link them in poll mode, like http://localhost:9090; default of `queueless seed -mockapi`", mockAPIURLVar},
	{"SEED_POLL_INTERVAL", "2s", "poll interval of the links seeding makes (100ms..1h)", durationVar(func(c *Config) *time.Duration { return &c.Sync.SeedPollInterval }, 100*time.Millisecond, time.Hour)},
}

// placeholderTokens are admin tokens that docs and examples have shown, or
// that read as a placeholder: anyone could try them.
var placeholderTokens = []string{"change-me", "changeme", "change_me", "replace-me", "replaceme", "replace_me",
	"placeholder", "your-token", "your-admin-token", "local-admin-token-0123"}

// maxAdminToken is the longest token auth compares: a longer one never matches.
const maxAdminToken = 256

func adminTokenVar(c *Config, v string) error {
	switch {
	case v == "":
	case len(v) < 16:
		return errors.New("must be at least 16 characters: generate one with `openssl rand -hex 32`")
	case len(v) > maxAdminToken:
		return fmt.Errorf("is %d characters, over the %d a bearer token may have: it would never match", len(v), maxAdminToken)
	default:
		low := strings.ToLower(v)
		for _, p := range placeholderTokens {
			if strings.Contains(low, p) {
				return errors.New("is a placeholder that anyone can guess: generate one with `openssl rand -hex 32`")
			}
		}
	}
	c.AdminToken = v
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func durationVar(field func(*Config) *time.Duration, lo, hi time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < lo || d > hi {
			return fmt.Errorf("must be a duration from %s to %s, like 180s", lo, hi)
		}
		*field(c) = d
		return nil
	}
}

// LoadConfig reads the configuration from getenv; every bad value is named
// in the error.
func LoadConfig(getenv func(string) string) (Config, error) {
	var c Config
	var errs []error
	for _, v := range envVars {
		val := getenv(v.name)
		if val == "" {
			val = v.def
		}
		if err := v.set(&c, val); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", v.name, val, err))
		}
	}
	if c.RedisURL != "" && c.RedisClusterURL != "" {
		errs = append(errs, errors.New("REDIS_URL and REDIS_CLUSTER_URL are both set: set one (a single Redis, or a cluster)"))
	}
	return c, errors.Join(errs...)
}

// EnvTable returns the configuration variables as a Markdown table.
func EnvTable() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, v := range envVars {
		def := v.def
		if def == "" {
			def = "(unset)"
		} else {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.name, def, v.help)
	}
	return b.String()
}
