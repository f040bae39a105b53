package previews_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/runyard/runyard/shared/previews"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func signer(t testing.TB) *previews.Signer {
	t.Helper()
	s, err := previews.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLinks(t *testing.T) {
	t.Parallel()
	s := signer(t)
	now := time.Unix(1_800_000_000, 0)
	c := previews.Claims{Tenant: "acme", Runtime: "abc234", Port: 3000, Expires: now.Add(time.Hour), ID: previews.NewLinkID()}
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	settings := previews.Settings{Links: []previews.Link{{ID: c.ID, Port: 3000, ExpiresAt: c.Expires}}}
	revoked := previews.Settings{Links: []previews.Link{{ID: c.ID, Port: 3000, ExpiresAt: c.Expires, RevokedAt: &now}}}
	other, _ := previews.NewSigner([]byte(strings.Repeat("k", 32)))
	otherTok, _ := other.Sign(c)
	p64, m64, _ := strings.Cut(tok, ".")
	tests := []struct {
		name    string
		token   string
		tenant  string
		rt      string
		port    int
		now     time.Time
		s       previews.Settings
		wantErr error
	}{
		{name: "valid", token: tok, tenant: "acme", rt: "abc234", port: 3000, now: now, s: settings},
		{name: "other port", token: tok, tenant: "acme", rt: "abc234", port: 3001, now: now, s: settings, wantErr: previews.ErrWrongPort},
		{name: "other runtime", token: tok, tenant: "acme", rt: "abc235", port: 3000, now: now, s: settings, wantErr: previews.ErrBadToken},
		{name: "other tenant", token: tok, tenant: "evil", rt: "abc234", port: 3000, now: now, s: settings, wantErr: previews.ErrBadToken},
		{name: "expired", token: tok, tenant: "acme", rt: "abc234", port: 3000, now: now.Add(time.Hour), s: settings, wantErr: previews.ErrExpired},
		{name: "revoked", token: tok, tenant: "acme", rt: "abc234", port: 3000, now: now, s: revoked, wantErr: previews.ErrRevoked},
		{name: "unknown id", token: tok, tenant: "acme", rt: "abc234", port: 3000, now: now, s: previews.Settings{}, wantErr: previews.ErrRevoked},
		{name: "other key", token: otherTok, tenant: "acme", rt: "abc234", port: 3000, now: now, s: settings, wantErr: previews.ErrBadToken},
		{name: "tampered payload", token: p64[:len(p64)-2] + "AA." + m64, tenant: "acme", rt: "abc234", port: 3000, now: now, s: settings, wantErr: previews.ErrBadToken},
		{name: "tampered signature", token: p64 + "." + strings.Repeat("A", len(m64)), tenant: "acme", rt: "abc234", port: 3000, now: now, s: settings, wantErr: previews.ErrBadToken},
		{name: "truncated", token: p64, tenant: "acme", rt: "abc234", port: 3000, now: now, s: settings, wantErr: previews.ErrBadToken},
		{name: "empty", token: "", tenant: "acme", rt: "abc234", port: 3000, now: now, s: settings, wantErr: previews.ErrBadToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Check(tt.token, tt.tenant, tt.rt, tt.port, tt.now, tt.s)
			if tt.wantErr == nil {
				if err != nil || got.ID != c.ID {
					t.Fatalf("Check = %+v, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Check err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestSignRefusesBadClaims(t *testing.T) {
	t.Parallel()
	s := signer(t)
	exp := time.Now().Add(time.Hour)
	for _, c := range []previews.Claims{
		{Tenant: "acme", Runtime: "abc", Port: 60000, Expires: exp, ID: "abcd"},
		{Tenant: "acme", Runtime: "abc", Port: 60001, Expires: exp, ID: "abcd"},
		{Tenant: "acme", Runtime: "a-b", Port: 3000, Expires: exp, ID: "abcd"},
		{Tenant: "a|b", Runtime: "abc", Port: 3000, Expires: exp, ID: "abcd"},
		{Tenant: "acme", Runtime: "abc", Port: 3000, Expires: exp, ID: "ab|c"},
		{Tenant: "acme", Runtime: "abc", Port: 3000, ID: "abcd"},
	} {
		if tok, err := s.Sign(c); err == nil {
			t.Errorf("Sign(%+v) = %q, want an error", c, tok)
		}
	}
	if _, err := previews.NewSigner([]byte("short")); err == nil {
		t.Error("NewSigner(short key) succeeded")
	}
}

func TestSettings(t *testing.T) {
	t.Parallel()
	var s previews.Settings
	if got := s.Visibility(3000, previews.Tenant); got != previews.Tenant {
		t.Errorf("default = %q", got)
	}
	now := time.Now()
	if err := previews.SetVisibility(60001, previews.Public)(&previews.Settings{Ports: map[string]previews.Visibility{}}); !errors.Is(err, previews.ErrInvalid) {
		t.Errorf("VS Code port: %v", err)
	}
	s.Ports = map[string]previews.Visibility{}
	if err := previews.SetVisibility(3000, previews.Public)(&s); err != nil || s.Visibility(3000, previews.Private) != previews.Public {
		t.Errorf("SetVisibility: %v %v", err, s.Ports)
	}
	if err := previews.SetVisibility(3000, "world")(&s); !errors.Is(err, previews.ErrInvalid) {
		t.Errorf("bad visibility: %v", err)
	}
	for i := range previews.MaxLinks {
		if err := previews.AddLink(previews.Link{ID: previews.NewLinkID(), Port: 3000 + i, ExpiresAt: now.Add(time.Hour)}, now)(&s); err != nil {
			t.Fatal(err)
		}
	}
	if err := previews.AddLink(previews.Link{ID: "x", Port: 1, ExpiresAt: now.Add(time.Hour)}, now)(&s); !errors.Is(err, previews.ErrTooMany) {
		t.Errorf("link %d: %v", previews.MaxLinks+1, err)
	}
	id := s.Links[0].ID
	if err := previews.RevokeLink(3001, id, now)(&s); !errors.Is(err, previews.ErrNotFound) {
		t.Errorf("revoke with the wrong port: %v", err)
	}
	if err := previews.RevokeLink(3000, id, now)(&s); err != nil || !s.Revoked(id) {
		t.Errorf("revoke: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	s := signer(f)
	tok, _ := s.Sign(previews.Claims{Tenant: "acme", Runtime: "abc234", Port: 3000, Expires: time.Unix(1_900_000_000, 0), ID: "abcd"})
	for _, seed := range []string{tok, "", ".", "a.b", tok + "x", strings.Replace(tok, "A", "B", 1)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := s.Verify(token)
		if err != nil {
			if !errors.Is(err, previews.ErrBadToken) || c != (previews.Claims{}) {
				t.Fatalf("Verify(%q) = %+v, %v", token, c, err)
			}
			return
		}
		// Anything accepted was signed with the key: re-signing gives the same token.
		again, err := s.Sign(c)
		if err != nil || again != token {
			t.Fatalf("Verify(%q) accepted %+v; Sign = %q, %v", token, c, again, err)
		}
	})
}
