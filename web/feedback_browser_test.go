package web_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/queueless/queueless/internal/testapp"
)

// TestBrowserFeedback runs web/e2e/feedback.test.mjs in Chromium against an
// embedded server: the phone page asks a served ticket for feedback, once.
// With -screenshots it also writes docs/screenshots/phone-feedback.png.
func TestBrowserFeedback(t *testing.T) {
	chromium := findChromium(t)
	node := requireProgram(t, "node", "install Node.js 20 or later (apt-get install nodejs npm)")
	requireNode20(t, node)
	e2e, err := filepath.Abs("e2e")
	if err != nil {
		t.Fatal(err)
	}
	ensureNodeModules(t, e2e)
	s := testapp.Start(t, testapp.Embedded)
	env := append(os.Environ(),
		"QL_BASE_URL="+s.URL,
		"QL_CONTROL_URL="+s.URL+"/no-control", // helpers.mjs wants one; this test stops no server
		"QL_ADMIN_TOKEN="+testapp.AdminToken,
		"QL_CHROMIUM="+chromium,
	)
	if *updateScreenshots {
		out, err := filepath.Abs(filepath.Join("..", "docs", "screenshots"))
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, "QL_SCREENSHOTS="+out)
	}
	runNode(t, node, e2e, env, "--test", "--test-reporter=spec", "--test-concurrency=1", "feedback.test.mjs")
}
