package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/queueless/queueless/httpapi"
	"github.com/queueless/queueless/jobs"
	"github.com/queueless/queueless/notify"
	"github.com/queueless/queueless/push"
	"github.com/queueless/queueless/sms"
)

// NotifyConfig sets up texts and web pushes (API.md v1.1, "Notifications
// delivered").
type NotifyConfig struct {
	PublicURL        string
	SMSGateway       string // twilio, http or ""
	TwilioURL        string
	TwilioAccountSID string
	TwilioAuthToken  string
	TwilioFrom       string
	SMSHTTPURL       string
	SMSHTTPSecret    string
	SMSVerify        string // true, false or "" (true when a gateway is set)
	CountryCode      string
	SMSAttempts      int
	SMSRetryBase     time.Duration
	VAPIDPrivateKey  string
	VAPIDSubject     string
	// PushAllowLoopback lets pushes go to loopback endpoints: tests whose
	// push service is an httptest server. No environment variable.
	PushAllowLoopback bool
}

func strVar(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *field(c) = v; return nil }
}

func init() {
	envVars = append(envVars,
		envVar{"PUBLIC_URL", "", "the site's address as citizens reach it, like https://queue.example: the ticket links in texts and pushes, and the URL Twilio signs inbound texts with; unset: http://localhost:<port of ADDR>", func(c *Config, v string) error {
			if v != "" {
				if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return errors.New("must be an absolute http(s) URL")
				}
			}
			c.Notify.PublicURL = v
			return nil
		}},
		envVar{"SMS_GATEWAY", "", "twilio (Twilio's Messages API at SMS_TWILIO_URL) or http (signed JSON POST to SMS_HTTP_URL); unset: no texts (in embedded mode with SEED_MOCKAPI_URL, the mockapi's mock Twilio)", func(c *Config, v string) error {
			if v != "" && v != "twilio" && v != "http" {
				return errors.New("must be twilio, http or unset")
			}
			c.Notify.SMSGateway = v
			return nil
		}},
		envVar{"SMS_TWILIO_URL", "https://api.twilio.com", "base URL of Twilio's API (or a stand-in speaking it, like mockapi)", strVar(func(c *Config) *string { return &c.Notify.TwilioURL })},
		envVar{"SMS_TWILIO_ACCOUNT_SID", "", "Twilio account SID (Basic auth user)", strVar(func(c *Config) *string { return &c.Notify.TwilioAccountSID })},
		envVar{"SMS_TWILIO_AUTH_TOKEN", "", "Twilio auth token: Basic auth password and the key of inbound texts' X-Twilio-Signature", strVar(func(c *Config) *string { return &c.Notify.TwilioAuthToken })},
		envVar{"SMS_TWILIO_FROM", "", "the sending number, E.164 (+15005550006)", strVar(func(c *Config) *string { return &c.Notify.TwilioFrom })},
		envVar{"SMS_HTTP_URL", "", "where the http gateway POSTs {\"to\", \"body\", \"id\"}", strVar(func(c *Config) *string { return &c.Notify.SMSHTTPURL })},
		envVar{"SMS_HTTP_SECRET", "", "HMAC-SHA256 key of the http gateway's X-QueueLess-Signature, both ways", strVar(func(c *Config) *string { return &c.Notify.SMSHTTPSecret })},
		envVar{"SMS_VERIFY", "", "true: the first text to a number is a 6-digit code, and nothing else is sent to it until POST /api/v1/tickets/{id}/verify-phone; unset: true when a gateway is set", func(c *Config, v string) error {
			if v != "" {
				if _, err := strconv.ParseBool(v); err != nil {
					return errors.New("must be true, false or unset")
				}
			}
			c.Notify.SMSVerify = v
			return nil
		}},
		envVar{"SMS_COUNTRY_CODE", "63", "country code of citizens' local numbers (0 and 10 digits), for the gateway's E.164", strVar(func(c *Config) *string { return &c.Notify.CountryCode })},
		envVar{"SMS_MAX_ATTEMPTS", "8", "attempts of a text or push before it is failed (1..25)", intVar(func(c *Config) *int { return &c.Notify.SMSAttempts }, 1, 25)},
		envVar{"SMS_RETRY_BASE", "10s", "wait after a text's or push's first failed attempt, doubling up to 10 min, ±20% jitter (10ms..1h)", durationVar(func(c *Config) *time.Duration { return &c.Notify.SMSRetryBase }, 10*time.Millisecond, time.Hour)},
		envVar{"VAPID_PRIVATE_KEY", "", "web push signing key (base64url P-256 scalar, or PEM); unset: one is generated once and kept (in PostgreSQL in production, in memory embedded)", strVar(func(c *Config) *string { return &c.Notify.VAPIDPrivateKey })},
		envVar{"VAPID_SUBJECT", "mailto:ops@queueless.invalid", "web push contact, mailto: or https:, sent to push services", func(c *Config, v string) error {
			if err := push.ValidateSubject(v); err != nil {
				return err
			}
			c.Notify.VAPIDSubject = v
			return nil
		}},
	)
}

// mockTwilio is the mockapi's mock SMS gateway's default credentials.
var mockTwilio = struct{ sid, token, from string }{"ACmock", "mock-auth-token", "+15005550006"}

// publicURL is PUBLIC_URL, or the local address of ADDR.
func (a *App) publicURL() string {
	if a.cfg.Notify.PublicURL != "" {
		return a.cfg.Notify.PublicURL
	}
	_, port, err := net.SplitHostPort(a.cfg.Addr)
	if err != nil || port == "" || port == "0" {
		port = "8080"
	}
	return "http://localhost:" + port
}

// setupNotify builds the notification service and registers its workers.
func (a *App) setupNotify(ctx context.Context, reg *jobs.Registry) error {
	n := &a.cfg.Notify
	if n.SMSGateway == "" && a.Embedded() && a.cfg.Sync.SeedMockAPIURL != "" {
		// The embedded demo: texts go to the mockapi's mock Twilio.
		n.SMSGateway, n.TwilioURL = "twilio", a.cfg.Sync.SeedMockAPIURL
		n.TwilioAccountSID, n.TwilioAuthToken, n.TwilioFrom = mockTwilio.sid, mockTwilio.token, mockTwilio.from
	}
	client := &http.Client{Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var gw sms.Gateway
	switch n.SMSGateway {
	case "twilio":
		if n.TwilioAccountSID == "" || n.TwilioAuthToken == "" || n.TwilioFrom == "" {
			return errors.New("SMS_GATEWAY=twilio needs SMS_TWILIO_ACCOUNT_SID, SMS_TWILIO_AUTH_TOKEN and SMS_TWILIO_FROM")
		}
		gw = &sms.Twilio{BaseURL: n.TwilioURL, AccountSID: n.TwilioAccountSID, AuthToken: n.TwilioAuthToken,
			From: n.TwilioFrom, CountryCode: n.CountryCode, Client: client}
	case "http":
		if n.SMSHTTPURL == "" || n.SMSHTTPSecret == "" {
			return errors.New("SMS_GATEWAY=http needs SMS_HTTP_URL and SMS_HTTP_SECRET")
		}
		gw = &sms.HTTP{URL: n.SMSHTTPURL, Secret: n.SMSHTTPSecret, Client: client}
	}
	verify := gw != nil
	if n.SMSVerify != "" {
		verify, _ = strconv.ParseBool(n.SMSVerify)
	}
	var store notify.Store
	if a.pool != nil {
		store = notify.NewPostgresStore(a.pool)
	} else {
		store = notify.NewMemoryStore()
	}
	policy := push.Policy{AllowLoopback: n.PushAllowLoopback}
	var sender *push.Sender
	keys, err := push.KeySource{Private: n.VAPIDPrivateKey, Store: store}.Keys(ctx)
	if err != nil {
		return fmt.Errorf("web push: %w", err)
	}
	sender = &push.Sender{Keys: keys, Subject: n.VAPIDSubject, Policy: policy}
	a.closers = append(a.closers, func(context.Context) { sender.Close() })
	a.Notify = notify.NewService(store, notify.Config{
		Gateway: gw, Verify: verify, Push: sender, PushPolicy: policy, PublicURL: a.publicURL(),
		MaxAttempts: n.SMSAttempts, Logger: a.log,
		Backoff: jobs.Backoff{Base: n.SMSRetryBase, Max: 10 * time.Minute, Jitter: 0.2},
	})
	a.Notify.RegisterWorkers(reg)
	return nil
}

// mountNotify gives the service its queue and adds its routes.
func (a *App) mountNotify() {
	a.Notify.SetQueue(a.Queue)
	n := a.cfg.Notify
	a.HTTP.MountNotify(a.Notify, httpapi.InboundSMS{Gateway: n.SMSGateway, TwilioToken: n.TwilioAuthToken,
		HTTPSecret: n.SMSHTTPSecret, CountryCode: n.CountryCode, PublicURL: n.PublicURL})
}
