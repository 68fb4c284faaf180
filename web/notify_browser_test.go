package web_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/mockapi"
)

// TestBrowserTexts runs web/e2e/notify.test.mjs in Chromium against a
// production-mode server whose SMS gateway is the mockapi's mock Twilio:
// the phone page's verification form and text state, and the console's
// text state per waiting ticket. With -screenshots it redraws
// docs/screenshots/phone-texts-*.png and staff-texts.png.
func TestBrowserTexts(t *testing.T) {
	kit := newBrowserKit(t)

	mock, err := mockapi.New(mockapi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mockSrv := httptest.NewServer(mock)
	t.Cleanup(mockSrv.Close)
	s := testapp.Start(t, testapp.Production, func(c *app.Config) {
		c.Notify.SMSGateway, c.Notify.TwilioURL = "twilio", mockSrv.URL
		c.Notify.TwilioAccountSID, c.Notify.TwilioAuthToken, c.Notify.TwilioFrom = "ACmock", "mock-auth-token", "+15005550006"
		c.Notify.SMSRetryBase = 100 * time.Millisecond
	})
	env := append(os.Environ(),
		"QL_BASE_URL="+s.URL,
		"QL_CONTROL_URL=http://127.0.0.1:1", // no server restarts here
		"QL_ADMIN_TOKEN="+testapp.AdminToken,
		"QL_CHROMIUM="+kit.chromium,
		"QL_MOCK_URL="+mockSrv.URL,
		"QL_ARTIFACTS="+filepath.Join(kit.e2e, "artifacts"),
	)
	env = append(env, screenshotsEnv(t)...)
	kit.test(t, env, "notify.test.mjs")
}
