package app

import (
	"os"
	"strings"
	"testing"
)

func TestLoadConfigNamesBadVariables(t *testing.T) {
	t.Parallel()
	env := map[string]string{"GRACE_PERIOD": "soon", "DB_MAX_CONNS": "0", "LOG_LEVEL": "loud", "TRUSTED_PROXIES": "10.0.0.0/33"}
	_, err := LoadConfig(func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for name := range env {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	cfg, err := LoadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatalf("defaults rejected: %v", err)
	}
	if cfg.Addr != ":8080" || cfg.GracePeriod.Seconds() != 180 || !cfg.AutoMigrate {
		t.Fatalf("defaults = %+v", cfg)
	}
}

// TestReadmeDocumentsEveryVariable keeps the README's table in step with
// the code: `go run ./cmd/queueless env` prints the table to paste.
func TestReadmeDocumentsEveryVariable(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), EnvTable()) {
		t.Fatal("README.md's configuration table differs from the code's: paste the output of `go run ./cmd/queueless env`")
	}
}

// A delivery held for the crowd (JOBS_YIELD_MAX) counts against the
// rescue time, like the delivery's own timeout: River's leader would
// otherwise hand a held job to a second worker, and it would be sent twice.
func TestRescueAfterCoversTheYield(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env map[string]string
		ok  bool
	}{
		{map[string]string{}, true}, // 2m > 10s + 5s + 30s
		{map[string]string{"WEBHOOK_TIMEOUT": "2s", "JOBS_RESCUE_AFTER": "8s", "JOBS_YIELD_MAX": "0"}, true},
		{map[string]string{"WEBHOOK_TIMEOUT": "2s", "JOBS_RESCUE_AFTER": "8s", "JOBS_YIELD_MAX": "1s"}, false},
		{map[string]string{"JOBS_RESCUE_AFTER": "45s"}, false}, // the default hold of 30s does not fit
		{map[string]string{"JOBS_RESCUE_AFTER": "46s"}, true},
	} {
		cfg, err := LoadConfig(func(k string) string { return tc.env[k] })
		if err != nil {
			t.Fatalf("%v: %v", tc.env, err)
		}
		err = cfg.validateJobs()
		if (err == nil) != tc.ok {
			t.Errorf("%v: validateJobs() = %v, want ok %v", tc.env, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "JOBS_YIELD_MAX") {
			t.Errorf("%v: error %q does not name JOBS_YIELD_MAX", tc.env, err)
		}
	}
}
