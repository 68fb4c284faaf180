package app

import (
	"strings"
	"testing"
	"time"
)

func TestJoinThrottleConfig(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.JoinRate.Limit != 10 || cfg.JoinRate.Period != time.Minute || cfg.JoinPhoneRate.Limit != 10 ||
		cfg.JoinPhoneRate.Period != time.Hour || cfg.JoinMaxInFlight != 256 ||
		cfg.JoinAddressRate.Limit != 60 || cfg.JoinAddressRate.Period != time.Minute {
		t.Fatalf("defaults: rate %+v, phone rate %+v, in flight %d", cfg.JoinRate, cfg.JoinPhoneRate, cfg.JoinMaxInFlight)
	}
	env := map[string]string{"JOIN_RATE": "off", "JOIN_PHONE_RATE": "3-s", "JOIN_MAX_IN_FLIGHT": "1"}
	cfg, err = LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.JoinRate.Limit != 0 || cfg.JoinPhoneRate.Limit != 3 || cfg.JoinPhoneRate.Period != time.Second || cfg.JoinMaxInFlight != 1 {
		t.Fatalf("parsed: rate %+v, phone rate %+v, in flight %d", cfg.JoinRate, cfg.JoinPhoneRate, cfg.JoinMaxInFlight)
	}
	for name, bad := range map[string][]string{
		"JOIN_RATE":          {"0-M", "-1-M", "5-X", "5", "M", "5-M-M", "1000001-S", "ten-M"},
		"JOIN_PHONE_RATE":    {"0-H", "1.5-H"},
		"JOIN_ADDRESS_RATE":  {"0-M", "x"},
		"JOIN_MAX_IN_FLIGHT": {"0", "-1", "100001", "many"},
	} {
		for _, v := range bad {
			_, err := LoadConfig(func(k string) string {
				if k == name {
					return v
				}
				return ""
			})
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: error %v, want one naming %s", name, v, err, name)
			}
		}
	}
}
