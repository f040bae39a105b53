package auth_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/runyard/runyard/shared/auth"
)

const validSecret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // 43 chars, 32 zero bytes

func TestNewAPIKeyRoundTrip(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, tenant := range []string{"acme", "a-1", "abc", strings.Repeat("t", 27)} {
		k, err := auth.NewAPIKey(tenant)
		if err != nil {
			t.Fatalf("NewAPIKey(%q): %v", tenant, err)
		}
		if len(k.Plaintext) > auth.MaxAPIKeyLen {
			t.Errorf("plaintext length %d > MaxAPIKeyLen %d", len(k.Plaintext), auth.MaxAPIKeyLen)
		}
		gotTenant, gotID, err := auth.ParseAPIKey(k.Plaintext)
		if err != nil {
			t.Fatalf("ParseAPIKey(NewAPIKey(%q)): %v", tenant, err)
		}
		if diff := cmp.Diff([]string{tenant, k.ID}, []string{gotTenant, gotID}); diff != "" {
			t.Errorf("ParseAPIKey (-want +got):\n%s", diff)
		}
		if want := "ryk_" + tenant + "_" + k.ID; k.Prefix != want || !strings.HasPrefix(k.Plaintext, k.Prefix+"_") {
			t.Errorf("Prefix = %q, want %q as prefix of the plaintext", k.Prefix, want)
		}
		if k.Tenant != tenant || len(k.ID) != 12 {
			t.Errorf("Tenant, ID = %q, %q", k.Tenant, k.ID)
		}
		if k.Hash != auth.HashAPIKey(k.Plaintext) || !auth.MatchAPIKey(k.Plaintext, k.Hash) {
			t.Errorf("Hash does not match plaintext")
		}
		if seen[k.ID] || seen[k.Plaintext] {
			t.Errorf("duplicate key generated")
		}
		seen[k.ID], seen[k.Plaintext] = true, true
	}
}

func TestNewAPIKeyInvalidTenant(t *testing.T) {
	t.Parallel()
	for _, tenant := range []string{"", "ab", "Acme", "1acme", "acme-", "ac_me", strings.Repeat("t", 28)} {
		if _, err := auth.NewAPIKey(tenant); !errors.Is(err, auth.ErrInvalidTenant) {
			t.Errorf("NewAPIKey(%q) error = %v, want ErrInvalidTenant", tenant, err)
		}
	}
}

// TestAPIKeyRedaction: no formatting path prints the plaintext.
func TestAPIKeyRedaction(t *testing.T) {
	t.Parallel()
	k, err := auth.NewAPIKey("acme")
	if err != nil {
		t.Fatal(err)
	}
	secret := k.Plaintext[len(k.Prefix)+1:]
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("key", "key", k)
	js, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), string(js), logBuf.String()} {
		if strings.Contains(s, secret) {
			t.Errorf("formatted key reveals the secret: %s", s)
		}
	}
}

func TestParseAPIKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		in         string
		wantTenant string
		wantID     string
		wantErr    bool
	}{
		{name: "valid", in: "ryk_acme_abcdefgh2345_" + validSecret, wantTenant: "acme", wantID: "abcdefgh2345"},
		{name: "tenant with hyphen and digits", in: "ryk_ac-me-9_abcdefgh2345_" + validSecret, wantTenant: "ac-me-9", wantID: "abcdefgh2345"},
		{name: "secret with underscores and hyphens", in: "ryk_acme_abcdefgh2345_" + "_-_-" + validSecret[4:], wantTenant: "acme", wantID: "abcdefgh2345"},
		{name: "empty", in: "", wantErr: true},
		{name: "prefix only", in: "ryk_", wantErr: true},
		{name: "wrong prefix", in: "ryx_acme_abcdefgh2345_" + validSecret, wantErr: true},
		{name: "upper prefix", in: "RYK_acme_abcdefgh2345_" + validSecret, wantErr: true},
		{name: "missing secret", in: "ryk_acme_abcdefgh2345", wantErr: true},
		{name: "empty secret", in: "ryk_acme_abcdefgh2345_", wantErr: true},
		{name: "short secret", in: "ryk_acme_abcdefgh2345_" + validSecret[1:], wantErr: true},
		{name: "long secret", in: "ryk_acme_abcdefgh2345_" + validSecret + "A", wantErr: true},
		{name: "secret not base64url", in: "ryk_acme_abcdefgh2345_" + "+" + validSecret[1:], wantErr: true},
		{name: "secret non-canonical last char", in: "ryk_acme_abcdefgh2345_" + validSecret[:42] + "B", wantErr: true},
		{name: "tenant too short", in: "ryk_ab_abcdefgh2345_" + validSecret, wantErr: true},
		{name: "tenant uppercase", in: "ryk_Acme_abcdefgh2345_" + validSecret, wantErr: true},
		{name: "tenant starts with digit", in: "ryk_1acme_abcdefgh2345_" + validSecret, wantErr: true},
		{name: "tenant ends with hyphen", in: "ryk_acme-_abcdefgh2345_" + validSecret, wantErr: true},
		{name: "tenant too long", in: "ryk_" + strings.Repeat("a", 28) + "_abcdefgh2345_" + validSecret, wantErr: true},
		{name: "empty tenant", in: "ryk__abcdefgh2345_" + validSecret, wantErr: true},
		{name: "key id short", in: "ryk_acme_abcdefgh234_" + validSecret, wantErr: true},
		{name: "key id long", in: "ryk_acme_abcdefgh23456_" + validSecret, wantErr: true},
		{name: "key id uppercase", in: "ryk_acme_ABCDEFGH2345_" + validSecret, wantErr: true},
		{name: "key id digit outside base32", in: "ryk_acme_abcdefgh2341_" + validSecret, wantErr: true},
		{name: "whitespace", in: " ryk_acme_abcdefgh2345_" + validSecret, wantErr: true},
		{name: "huge", in: "ryk_acme_abcdefgh2345_" + strings.Repeat("A", 1<<20), wantErr: true},
		{name: "non-ascii", in: "ryk_acmé_abcdefgh2345_" + validSecret, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tenant, id, err := auth.ParseAPIKey(tc.in)
			if tc.wantErr {
				if !errors.Is(err, auth.ErrMalformedAPIKey) {
					t.Fatalf("ParseAPIKey() error = %v, want ErrMalformedAPIKey", err)
				}
				if len(tc.in) > 20 && strings.Contains(err.Error(), tc.in) {
					t.Errorf("error echoes the input")
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAPIKey() error = %v", err)
			}
			if diff := cmp.Diff([]string{tc.wantTenant, tc.wantID}, []string{tenant, id}); diff != "" {
				t.Errorf("ParseAPIKey (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMatchAPIKey(t *testing.T) {
	t.Parallel()
	k, err := auth.NewAPIKey("acme")
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.NewAPIKey("acme")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		plaintext string
		hash      string
		want      bool
	}{
		{name: "match", plaintext: k.Plaintext, hash: k.Hash, want: true},
		{name: "uppercase stored hash", plaintext: k.Plaintext, hash: strings.ToUpper(k.Hash), want: true},
		{name: "other key", plaintext: other.Plaintext, hash: k.Hash},
		{name: "one char changed", plaintext: k.Plaintext[:len(k.Plaintext)-1] + "x", hash: k.Hash},
		{name: "empty hash", plaintext: k.Plaintext, hash: ""},
		{name: "truncated hash", plaintext: k.Plaintext, hash: k.Hash[:62]},
		{name: "not hex", plaintext: k.Plaintext, hash: strings.Repeat("z", 64)},
		{name: "plaintext as hash", plaintext: k.Plaintext, hash: k.Plaintext},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := auth.MatchAPIKey(tc.plaintext, tc.hash); got != tc.want {
				t.Errorf("MatchAPIKey() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHashAPIKeyKnownAnswer(t *testing.T) {
	t.Parallel()
	// sha256("abc")
	if got, want := auth.HashAPIKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("HashAPIKey(abc) = %s, want %s", got, want)
	}
}

func TestValidTenantID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		id   string
		want bool
	}{
		{name: "min", id: "abc", want: true},
		{name: "max", id: strings.Repeat("a", 27), want: true},
		{name: "digits and hyphens", id: "a-1-b2", want: true},
		{name: "too short", id: "ab"},
		{name: "too long", id: strings.Repeat("a", 28)},
		{name: "leading digit", id: "1ab"},
		{name: "leading hyphen", id: "-ab"},
		{name: "trailing hyphen", id: "ab-"},
		{name: "underscore", id: "a_b"},
		{name: "upper", id: "aBc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := auth.ValidTenantID(tc.id); got != tc.want {
				t.Errorf("ValidTenantID(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}

func BenchmarkMatchAPIKey(b *testing.B) {
	k, err := auth.NewAPIKey("acme")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !auth.MatchAPIKey(k.Plaintext, k.Hash) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkParseAPIKey(b *testing.B) {
	k, err := auth.NewAPIKey("acme")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := auth.ParseAPIKey(k.Plaintext); err != nil {
			b.Fatal(err)
		}
	}
}
