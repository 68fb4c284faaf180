package loadtest

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
)

// TestPhonesRoundsAndDrain runs the phones benchmark's pieces at a tiny
// scale against a production server (its own schema) texting the fake
// Twilio: a crowd without phones enqueues no sms_* job, a crowd with
// phones one sms_phone job per join, and once drained every one of them
// is completed and each number got its code.
func TestPhonesRoundsAndDrain(t *testing.T) {
	t.Parallel()
	tw, err := startFakeTwilio()
	if err != nil {
		t.Fatal(err)
	}
	defer tw.close()
	srv := testapp.Start(t, testapp.Production, trustLoopback, func(c *app.Config) {
		c.Notify.SMSGateway, c.Notify.TwilioURL = "twilio", tw.URL
		c.Notify.TwilioAccountSID, c.Notify.TwilioAuthToken, c.Notify.TwilioFrom = fakeTwilioSID, fakeTwilioToken, "+15005550006"
		c.Notify.SMSVerify = "true"
	})
	ctx := context.Background()
	opts := smokeOptions(t, srv.URL)
	opts.Verify, opts.ProgressOut = false, io.Discard
	const total, clients = 30, 4

	plain, err := phonesRound(ctx, opts, total, clients, false)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Statuses["201"] != total || plain.OKPerSecond <= 0 {
		t.Fatalf("crowd without phones: %s, %.0f joins/s", FormatStatuses(plain.Statuses), plain.OKPerSecond)
	}
	_, c, err := waitDrained(ctx, srv.Config.DatabaseURL, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if n := c.count(func(string) bool { return true }); n != 0 || tw.sent.Load() != 0 {
		t.Fatalf("joins without phones made sms jobs (%s) or texts (%d)", c, tw.sent.Load())
	}

	withPhones, err := phonesRound(ctx, opts, total, clients, true)
	if err != nil {
		t.Fatal(err)
	}
	if withPhones.Statuses["201"] != total {
		t.Fatalf("crowd with phones: %s", FormatStatuses(withPhones.Statuses))
	}
	d, c, err := waitDrained(ctx, srv.Config.DatabaseURL, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("drained in %s: %s", d, c)
	if got := c.total("sms_phone", "completed"); got != total || c.unfinished() != 0 {
		t.Errorf("after the crowd with phones: %s; want %d sms_phone completed and nothing else", c, total)
	}
	if got := tw.sent.Load(); got != total {
		t.Errorf("the fake Twilio got %d texts, want one code per number (%d)", got, total)
	}
}

func TestJobCounts(t *testing.T) {
	c := jobCounts{"sms_phone": {"completed": 5, "available": 2}, "sms_delivery": {"discarded": 1, "completed": 3}}
	if got := c.pending(); got != 2 {
		t.Errorf("pending = %d, want 2 (available; discarded is finished)", got)
	}
	if got := c.unfinished(); got != 3 {
		t.Errorf("unfinished = %d, want 3 (available and discarded)", got)
	}
	if got, want := c.String(), "sms_delivery: completed 3, discarded 1; sms_phone: available 2, completed 5"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
