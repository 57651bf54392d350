package provider

import (
	"testing"
	"time"
)

func TestShortDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0:                             "0s",
		30 * time.Second:              "30s",
		time.Minute:                   "1m",
		5 * time.Minute:               "5m",
		10 * time.Minute:              "10m",
		90 * time.Second:              "1m30s",
		time.Hour:                     "1h",
		90 * time.Minute:              "1h30m",
		24 * time.Hour:                "24h",
		time.Hour + 10*time.Second:    "1h0m10s",
		20*time.Hour + 20*time.Minute: "20h20m",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
