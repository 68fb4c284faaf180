package app

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/queueless/queueless/internal/testenv"
)

// TestRefusesOldSchema: with AUTO_MIGRATE=false the server does not start on
// a schema that is behind, and says which command brings it up; with the
// default it migrates and starts.
func TestRefusesOldSchema(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = testenv.NewSchema(t)
	cfg.AutoMigrate = false
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	if a, err := New(ctx, cfg, log); err == nil {
		a.Close(ctx)
		t.Fatal("started on an empty schema with AUTO_MIGRATE=false")
	} else if !strings.Contains(err.Error(), "queueless migrate") {
		t.Fatalf("error %q does not name the command that migrates", err)
	}
	cfg.AutoMigrate = true
	a, err := New(ctx, cfg, log)
	if err != nil {
		t.Fatalf("start with AUTO_MIGRATE=true: %v", err)
	}
	a.Close(ctx)
	cfg.AutoMigrate = false
	a, err = New(ctx, cfg, log)
	if err != nil {
		t.Fatalf("start on a current schema with AUTO_MIGRATE=false: %v", err)
	}
	a.Close(ctx)
}
