package sweeper_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sethvargo/go-envconfig"

	"github.com/runyard/runyard/functions/sweeper"
	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/billing/stripe"
	"github.com/runyard/runyard/shared/config"
)

// billingDefaults is the billing configuration of an environment without billing settings:
// off, default prices.
var billingDefaults = stripe.EnvConfig{Timeout: 10 * time.Second, Prices: billing.DefaultPriceConfig}

func TestConfig(t *testing.T) {
	t.Parallel()
	base := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "RUNYARD_CELLS": "c1:p:us-central1:10"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    sweeper.Config
		wantErr string
	}{
		{name: "defaults", env: base, want: sweeper.Config{ProjectID: "p", FirestoreDatabase: "(default)", LogLevel: "info", MaxPerTick: 100,
			StuckAfter: 15 * time.Minute, LeaseTTL: 5 * time.Minute, TickTimeout: 50 * time.Second, Billing: billingDefaults}},
		{name: "overrides", env: with("MAX_PER_TICK", "7", "STUCK_AFTER", "30m"), want: sweeper.Config{ProjectID: "p", FirestoreDatabase: "(default)",
			LogLevel: "info", MaxPerTick: 7, StuckAfter: 30 * time.Minute, LeaseTTL: 5 * time.Minute, TickTimeout: 50 * time.Second, Billing: billingDefaults}},
		{name: "no project", env: with("GOOGLE_CLOUD_PROJECT", ""), wantErr: "GOOGLE_CLOUD_PROJECT is required"},
		{name: "no cells", env: with("RUNYARD_CELLS", ""), wantErr: "RUNYARD_CELLS needs at least one cell"},
		{name: "bad max", env: with("MAX_PER_TICK", "0"), wantErr: "MAX_PER_TICK must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got sweeper.Config
			err := config.LoadFrom(context.Background(), &got, envconfig.MapLookuper(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Runtimes" }, cmp.Ignore())); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}
