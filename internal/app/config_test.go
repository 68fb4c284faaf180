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
