package app

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestAdminTokenRefused: a placeholder admin token, one from the docs or
// one too long to ever match (tokens are compared up to 256 characters)
// stops start-up with a message naming ADMIN_TOKEN.
func TestAdminTokenRefused(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{
		"change-me-admin-token",      // docker-compose.yml's old default
		"change-me-to-a-long-secret", // the README's old production example
		"local-admin-token-0123",     // loadtest/k6/README.md's old example
		"CHANGEME-please-0123456789",
		"replace-me-with-a-secret-0123",
		strings.Repeat("a", 257),
	} {
		_, err := LoadConfig(func(k string) string {
			if k == "ADMIN_TOKEN" {
				return tok
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), "ADMIN_TOKEN") {
			t.Errorf("ADMIN_TOKEN=%.40q: err = %v, want a refusal naming ADMIN_TOKEN", tok, err)
		}
	}
	for _, tok := range []string{strings.Repeat("b", 256), "3f9a1c0e5b7d2a4c6e8f0a1b3c5d7e9f"} {
		cfg, err := LoadConfig(func(k string) string {
			if k == "ADMIN_TOKEN" {
				return tok
			}
			return ""
		})
		if err != nil || cfg.AdminToken != tok {
			t.Errorf("ADMIN_TOKEN of %d characters refused: %v", len(tok), err)
		}
	}
}

// TestShippedConfigHasNoAdminToken: docker-compose.yml refuses to start
// without a real ADMIN_TOKEN, and no token written in the docs is one the
// server would accept.
func TestShippedConfigHasNoAdminToken(t *testing.T) {
	t.Parallel()
	compose, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^\s*ADMIN_TOKEN:\s*(.*)$`).FindSubmatch(compose)
	if line == nil || !regexp.MustCompile(`^"?\$\{ADMIN_TOKEN:\?[^}]+\}"?$`).Match(line[1]) {
		t.Fatalf("docker-compose.yml: ADMIN_TOKEN must be ${ADMIN_TOKEN:?message}, got %q", line)
	}
	for _, doc := range []string{"../../README.md", "../../loadtest/k6/README.md", "../../loadtest/README.md", "../../docs/DEMO.md"} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`ADMIN_TOKEN=([^\s$"'`+"`"+`]+)`).FindAllSubmatch(text, -1) {
			tok := string(m[1])
			if _, err := LoadConfig(func(k string) string {
				if k == "ADMIN_TOKEN" {
					return tok
				}
				return ""
			}); err == nil {
				t.Errorf("%s shows ADMIN_TOKEN=%s, which the server accepts: show how to generate one instead", doc, tok)
			}
		}
	}
}
