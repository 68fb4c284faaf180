package web_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestVendoredChartLibrary checks that the vendored uPlot files are the
// ones its README lists (unmodified, with their licence) and that the
// build needs nothing the pages' Content-Security-Policy forbids.
func TestVendoredChartLibrary(t *testing.T) {
	t.Parallel()
	// The licence and this list stay in web/vendor/uplot; the files the
	// insights page loads are served from web/static/vendor/uplot.
	dir := filepath.Join("vendor", "uplot")
	served := filepath.Join("static", "vendor", "uplot")
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile(`(?m)^\| (\S+) \| (\d+) \| ([0-9a-f]{64}) \|$`).FindAllStringSubmatch(string(readme), -1)
	if len(rows) != 3 {
		t.Fatalf("README lists %d files with their sums, want 3", len(rows))
	}
	for _, r := range rows {
		where := served
		if r[1] == "LICENSE" {
			where = dir
		}
		data, err := os.ReadFile(filepath.Join(where, r[1]))
		if err != nil {
			t.Errorf("%s: %v", r[1], err)
			continue
		}
		if got := strconv.Itoa(len(data)); got != r[2] {
			t.Errorf("%s: %s bytes, README says %s", r[1], got, r[2])
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != r[3] {
			t.Errorf("%s: sha256 %s, README says %s", r[1], got, r[3])
		}
	}
	lic, _ := os.ReadFile(filepath.Join(dir, "LICENSE"))
	if !strings.Contains(string(lic), "The MIT License") || !strings.Contains(string(lic), "Leon Sorokin") {
		t.Error("LICENSE is not uPlot's MIT licence")
	}
	js, _ := os.ReadFile(filepath.Join(served, "uPlot.iife.min.js"))
	if !strings.HasPrefix(string(js), "/*! https://github.com/leeoniya/uPlot (v1.6.32) */") {
		t.Error("uPlot.iife.min.js does not start with uPlot 1.6.32's banner")
	}
	// script-src 'self' without 'unsafe-eval'.
	for _, forbidden := range []string{"eval(", "new Function"} {
		if strings.Contains(string(js), forbidden) {
			t.Errorf("uPlot.iife.min.js uses %s, which the pages' Content-Security-Policy forbids", forbidden)
		}
	}
}
