package store

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewSortableID(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		// times in increasing order
		times []time.Time
	}{
		{"nanoseconds apart", []time.Time{base, base.Add(1), base.Add(2)}},
		{"years apart", []time.Time{time.Unix(0, 0), base.AddDate(-30, 0, 0), base, base.AddDate(200, 0, 0)}},
		{"across a base-36 digit carry", []time.Time{time.Unix(0, 35), time.Unix(0, 36), time.Unix(0, 36*36)}},
	}
	valid := regexp.MustCompile(`^[a-z0-9]{29}$`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ids []string
			for _, tm := range tc.times {
				id := NewSortableID(tm)
				if !valid.MatchString(id) {
					t.Errorf("NewSortableID(%v) = %q, want 29 characters of [a-z0-9]", tm, id)
				}
				if err := (Key{Tenant: "t", Kind: "audit", ID: id}).Validate(); err != nil {
					t.Errorf("NewSortableID(%v) = %q is not a valid key id: %v", tm, id, err)
				}
				ids = append(ids, id)
			}
			if !slices.IsSorted(ids) {
				t.Errorf("ids of increasing times do not sort: %q", ids)
			}
			var rev []string
			for _, tm := range tc.times {
				id := NewReverseSortableID(tm)
				if !valid.MatchString(id) {
					t.Errorf("NewReverseSortableID(%v) = %q, want 29 characters of [a-z0-9]", tm, id)
				}
				rev = append(rev, id)
			}
			slices.Reverse(rev)
			if !slices.IsSorted(rev) {
				t.Errorf("reverse ids of decreasing times do not sort: %q", rev)
			}
		})
	}
}

func TestNewSortableIDUnique(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for range 1000 {
		id := NewSortableID(at)
		if seen[id] {
			t.Fatalf("duplicate id %q for one instant", id)
		}
		seen[id] = true
	}
	// Times before the epoch count as the epoch.
	if got, want := NewSortableID(time.Unix(-5, 0))[:13], strings.Repeat("0", 13); got != want {
		t.Errorf("time prefix before the epoch = %q, want %q", got, want)
	}
}

func TestEventDocID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		id       string
		wantSame bool
	}{
		{"pubsub message id", "1234567890123", true},
		{"stripe event id", "evt_1NXYZabc", true},
		{"uuid", "0b5c6f3e-7c1a-4c38-9a7e-6b1f1d0e2a11", true},
		{"empty", "", false},
		{"slash", "a/b", false},
		{"dot", "a.b", false},
		{"too long", strings.Repeat("a", 129), false},
		{"reserved form", "__x__", false},
		{"leading underscores", "__x", false},
		{"hash prefix", "sha256-abc", false},
		{"unicode", "événement", false},
	}
	hashed := regexp.MustCompile(`^sha256-[0-9a-f]{64}$`)
	seen := map[string]string{}
	for _, tc := range tests {
		got := EventDocID(tc.id)
		if tc.wantSame && got != tc.id {
			t.Errorf("%s: EventDocID(%q) = %q, want it unchanged", tc.name, tc.id, got)
		}
		if !tc.wantSame && !hashed.MatchString(got) {
			t.Errorf("%s: EventDocID(%q) = %q, want sha256- and 64 hex digits", tc.name, tc.id, got)
		}
		if err := EventKey(tc.id).Validate(); err != nil {
			t.Errorf("%s: EventKey(%q) is invalid: %v", tc.name, tc.id, err)
		}
		if other, ok := seen[got]; ok {
			t.Errorf("EventDocID(%q) = EventDocID(%q) = %q", tc.id, other, got)
		}
		seen[got] = tc.id
	}
	if got := EventDocID(EventDocID("a/b")); got == EventDocID("a/b") {
		t.Errorf("a hashed id maps to itself: %q", got)
	}
}

func TestKeyValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		k       Key
		wantErr bool
	}{
		{"tenant document", TenantKey("acme"), false},
		{"tenant data", Key{Tenant: "acme", Kind: "runtimes", ID: "r1"}, false},
		{"email id", Key{Tenant: "acme", Kind: "members", ID: "a.b+c@example.com"}, false},
		{"global", Key{Kind: KindImages, ID: "sha256:abc"}, false},
		{"no tenant", Key{Kind: "runtimes", ID: "r1"}, true},
		{"empty", Key{}, true},
		{"global with tenant", Key{Tenant: "acme", Kind: KindCells, ID: "c"}, true},
		{"slash", Key{Tenant: "acme", Kind: "runtimes", ID: "a/b"}, true},
		{"dot dot", Key{Tenant: "acme", Kind: "runtimes", ID: ".."}, true},
		{"reserved", Key{Tenant: "acme", Kind: "runtimes", ID: "__id__"}, true},
		{"reserved, shortest", Key{Tenant: "acme", Kind: "runtimes", ID: "____"}, true},
		{"three underscores", Key{Tenant: "acme", Kind: "runtimes", ID: "___"}, false},
		{"long", Key{Tenant: "acme", Kind: "runtimes", ID: strings.Repeat("a", 501)}, true},
		{"upper-case kind", Key{Tenant: "acme", Kind: "Runtimes", ID: "r1"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.k.Validate()
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("Validate(%+v) = %v, want error %v", tc.k, err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Validate(%+v) = %v, want ErrInvalidKey", tc.k, err)
			}
		})
	}
}
