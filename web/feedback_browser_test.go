package web_test

import (
	"os"
	"testing"

	"github.com/queueless/queueless/internal/testapp"
)

// TestBrowserFeedback runs web/e2e/feedback.test.mjs in Chromium against an
// embedded server: the phone page asks a served ticket for feedback, once.
// With -screenshots it also writes docs/screenshots/phone-feedback.png.
func TestBrowserFeedback(t *testing.T) {
	kit := newBrowserKit(t)
	s := testapp.Start(t, testapp.Embedded)
	env := append(os.Environ(),
		"QL_BASE_URL="+s.URL,
		"QL_CONTROL_URL="+s.URL+"/no-control", // helpers.mjs wants one; this test stops no server
		"QL_ADMIN_TOKEN="+testapp.AdminToken,
		"QL_CHROMIUM="+kit.chromium,
	)
	env = append(env, screenshotsEnv(t)...)
	kit.test(t, env, "feedback.test.mjs")
}
