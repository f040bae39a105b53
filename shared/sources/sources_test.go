package sources_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/sources"
)

func TestOwner(t *testing.T) {
	t.Parallel()
	type owner struct {
		Tenant, Build string
		OK            bool
	}
	tests := []struct {
		name string
		uri  string
		want owner
	}{
		{"gcs", "gs://bucket/sources/acme/b-1.tar.gz", owner{"acme", "b-1", true}},
		{"file", "file:///var/runyard/sources/acme-corp/01J.x_y.tar.gz", owner{"acme-corp", "01J.x_y", true}},
		{"bare key", "acme/b1.tar.gz", owner{"acme", "b1", true}},
		{"no tenant", "b1.tar.gz", owner{}},
		{"bad tenant", "gs://b/sources/ACME/b1.tar.gz", owner{}},
		{"dot dot build", "gs://b/sources/acme/...tar.gz", owner{}},
		{"other extension", "gs://b/sources/acme/b1.zip", owner{}},
		{"empty", "", owner{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got owner
			got.Tenant, got.Build, got.OK = sources.Owner(tt.uri)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Owner(%q) (-want +got):\n%s", tt.uri, diff)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, tenant, build string
		wantErr             string
	}{
		{name: "ok", tenant: "acme", build: "b1"},
		{name: "both bad", tenant: "A", build: "/", wantErr: "bad tenant id\nsources: invalid tenant or build id: bad build id"},
		{name: "long build", tenant: "acme", build: strings.Repeat("b", 129), wantErr: "bad build id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := sources.Check(tt.tenant, tt.build)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check() error = %v", err)
				}
				return
			}
			if !errors.Is(err, sources.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Check() error = %v, want ErrInvalid with %q", err, tt.wantErr)
			}
		})
	}
}

func TestLimitReader(t *testing.T) {
	t.Parallel()
	got, err := io.ReadAll(sources.LimitReader(bytes.NewReader([]byte("12345")), 5))
	if err != nil || string(got) != "12345" {
		t.Errorf("at the limit: %q, %v", got, err)
	}
	if _, err := io.ReadAll(sources.LimitReader(bytes.NewReader([]byte("123456")), 5)); !errors.Is(err, sources.ErrTooLarge) {
		t.Errorf("over the limit: error = %v, want %v", err, sources.ErrTooLarge)
	}
}
