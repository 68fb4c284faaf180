package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/loadtest"
)

func noEnv(string) string { return "" }

func TestJoinCommandPrintsJSON(t *testing.T) {
	t.Parallel()
	srv := testapp.Start(t, testapp.Embedded)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"join", "-url", srv.URL, "-admin-token", testapp.AdminToken,
		"-clients", "5", "-duration", "500ms", "-verify", "-allow", "201", "-json", "-progress", "100ms"},
		noEnv, strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatalf("join: %v\n%s", err, stderr.String())
	}
	var res loadtest.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("-json output: %v\n%s", err, stdout.String())
	}
	if res.Scenario != "join" || len(res.Ops) == 0 || res.Ops[0].Statuses["201"] == 0 {
		t.Errorf("result has no 201 joins: %+v", res)
	}
	if !res.OK() || len(res.Checks) < 3 {
		t.Errorf("checks: %+v", res.Checks)
	}
	if !strings.Contains(stderr.String(), "join") {
		t.Errorf("no progress line on stderr: %q", stderr.String())
	}
}

func TestCommandErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		nil,
		{"nope"},
		{"join", "-allow", "two"},
		{"fanout", "-target", "elsewhere", "-url", "http://127.0.0.1:1"},
		{"join", "-url", "ftp://example.com"},
		{"mixed", "-source-cidr", "10.0.0.0/24", "-url", "http://example.com"},
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, noEnv, strings.NewReader(""), &out, &errOut); err == nil {
			t.Errorf("loadgen %q succeeded", args)
		}
	}
}

func TestOfficeDayCommand(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"officeday", "-seed", "1001", "-days", "2", "-json"}, noEnv, strings.NewReader(""), &stdout, &stderr)
	var rep struct {
		Days   int `json:"days"`
		Common int `json:"common"`
		Scores []struct {
			Name           string  `json:"name"`
			MedianAbsError float64 `json:"median_abs_error_seconds"`
		} `json:"scores"`
		Checks []struct {
			OK bool `json:"ok"`
		} `json:"checks"`
	}
	if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
		t.Fatalf("-json output: %v\n%s", jerr, stdout.String())
	}
	if rep.Days != 2 || rep.Common == 0 || len(rep.Scores) != 3 || len(rep.Checks) != 3 {
		t.Errorf("report %+v", rep)
	}
	failed := false
	for _, c := range rep.Checks {
		failed = failed || !c.OK
	}
	if failed != (err != nil) {
		t.Errorf("exit error %v, but checks %+v", err, rep.Checks)
	}
	for _, bad := range [][]string{{"officeday", "-days", "0"}, {"officeday", "extra"}} {
		if err := run(context.Background(), bad, noEnv, strings.NewReader(""), &stdout, &stderr); err == nil {
			t.Errorf("loadgen %q succeeded", bad)
		}
	}
}
