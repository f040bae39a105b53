package auth_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/runyard/runyard/shared/auth"
)

func devKey(b byte) []byte { return bytes.Repeat([]byte{b}, auth.DevKeySize) }

func TestDevTokensRoundTrip(t *testing.T) {
	t.Parallel()
	d := auth.NewDevTokens(devKey(1))
	tok, err := d.Mint(" Alice@Example.com ", time.Hour)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	if !auth.DevTokenLooksLike(tok) {
		t.Errorf("DevTokenLooksLike(%q) = false", tok)
	}
	got, err := d.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := auth.Principal{Kind: auth.KindUser, Email: "alice@example.com", Issuer: auth.IssuerDev, Dev: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Verify (-want +got):\n%s", diff)
	}
}

func TestDevTokensVerify(t *testing.T) {
	t.Parallel()
	d := auth.NewDevTokens(devKey(1))
	good, err := d.Mint("alice@example.com", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	fromOtherKey, err := auth.NewDevTokens(devKey(2)).Mint("alice@example.com", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	payload, mac, _ := strings.Cut(strings.TrimPrefix(good, auth.DevTokenPrefix), ".")
	evil := b64(`{"email":"root@example.com","exp":9999999999,"iat":0}`)
	macBytes, err := base64.RawURLEncoding.DecodeString(mac)
	if err != nil {
		t.Fatal(err)
	}
	macBytes[0] ^= 1
	flipped := base64.RawURLEncoding.EncodeToString(macBytes)
	cases := []struct {
		name    string
		token   string
		wantErr error
	}{
		{name: "other key", token: fromOtherKey, wantErr: auth.ErrInvalidToken},
		{name: "payload swapped", token: auth.DevTokenPrefix + evil + "." + mac, wantErr: auth.ErrInvalidToken},
		{name: "mac bit flipped", token: auth.DevTokenPrefix + payload + "." + flipped, wantErr: auth.ErrInvalidToken},
		{name: "forged mac", token: auth.DevTokenPrefix + payload + "." + b64(strings.Repeat("x", 32)), wantErr: auth.ErrInvalidToken},
		{name: "empty", token: "", wantErr: auth.ErrMalformedToken},
		{name: "no prefix", token: payload + "." + mac, wantErr: auth.ErrMalformedToken},
		{name: "no mac", token: auth.DevTokenPrefix + payload, wantErr: auth.ErrMalformedToken},
		{name: "extra segment", token: good + ".x", wantErr: auth.ErrMalformedToken},
		{name: "short mac", token: auth.DevTokenPrefix + payload + "." + mac[:20], wantErr: auth.ErrMalformedToken},
		{name: "bad base64", token: auth.DevTokenPrefix + "!!." + mac, wantErr: auth.ErrMalformedToken},
		{name: "too long", token: auth.DevTokenPrefix + strings.Repeat("A", 2000) + "." + mac, wantErr: auth.ErrMalformedToken},
		{name: "google-looking JWT", token: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", wantErr: auth.ErrMalformedToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := d.Verify(tc.token)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify() error = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(auth.Principal{}, got); diff != "" {
				t.Errorf("Verify() principal on error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDevTokensMintErrors(t *testing.T) {
	t.Parallel()
	d := auth.NewDevTokens(devKey(1))
	for _, tc := range []struct {
		email string
		ttl   time.Duration
	}{
		{"", time.Hour}, {"alice", time.Hour}, {"@example.com", time.Hour}, {"a@b@c", time.Hour},
		{"a b@example.com", time.Hour}, {"alice@example.com", 0}, {"alice@example.com", -time.Second},
	} {
		if tok, err := d.Mint(tc.email, tc.ttl); err == nil {
			t.Errorf("Mint(%q, %v) = %q, want error", tc.email, tc.ttl, tok)
		}
	}
}

func TestDevTokensBadKey(t *testing.T) {
	t.Parallel()
	for _, key := range [][]byte{nil, make([]byte, 16), make([]byte, 33)} {
		d := auth.NewDevTokens(key)
		if _, err := d.Mint("alice@example.com", time.Hour); !errors.Is(err, auth.ErrInvalidDevKey) {
			t.Errorf("Mint with %d-byte key: error = %v, want ErrInvalidDevKey", len(key), err)
		}
		if _, err := d.Verify("rydev.e30.AAAA"); !errors.Is(err, auth.ErrInvalidDevKey) {
			t.Errorf("Verify with %d-byte key: error = %v, want ErrInvalidDevKey", len(key), err)
		}
	}
}

func TestDevTokenLooksLike(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		raw  string
		want bool
	}{
		{name: "dev", raw: "rydev.abc.def", want: true},
		{name: "google", raw: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"},
		{name: "api key", raw: "ryk_acme_abcdefgh2345_" + validSecret},
		{name: "prefix without dot", raw: "rydevabc"},
		{name: "empty", raw: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := auth.DevTokenLooksLike(tc.raw); got != tc.want {
				t.Errorf("DevTokenLooksLike(%q) = %v, want %v", tc.raw, got, tc.want)
			}
		})
	}
}

func TestLoadOrCreateDevKey(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state", "runyard")
	k1, err := auth.LoadOrCreateDevKey(dir)
	if err != nil {
		t.Fatalf("first LoadOrCreateDevKey: %v", err)
	}
	if len(k1) != auth.DevKeySize {
		t.Fatalf("key length = %d, want %d", len(k1), auth.DevKeySize)
	}
	path := filepath.Join(dir, auth.DevKeyFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", st.Mode().Perm())
	}
	k2, err := auth.LoadOrCreateDevKey(dir)
	if err != nil {
		t.Fatalf("second LoadOrCreateDevKey: %v", err)
	}
	if !bytes.Equal(k1, k2) {
		t.Error("second call returned a different key")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want only %s", len(entries), auth.DevKeyFile)
	}
}

// TestLoadOrCreateDevKeyConcurrent: racing first runs all end up with the same key.
func TestLoadOrCreateDevKeyConcurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const n = 8
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = auth.LoadOrCreateDevKey(dir) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadOrCreateDevKey #%d: %v", i, errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("LoadOrCreateDevKey #%d returned a different key", i)
		}
	}
}

func TestLoadOrCreateDevKeyRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		content string
		mode    os.FileMode
	}{
		{name: "not hex", content: strings.Repeat("zz", 32), mode: 0o600},
		{name: "short", content: strings.Repeat("ab", 16), mode: 0o600},
		{name: "empty", content: "", mode: 0o600},
		{name: "world readable", content: strings.Repeat("ab", 32), mode: 0o644},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.mode&0o077 != 0 && runtime.GOOS == "windows" {
				t.Skip("no Unix permissions")
			}
			dir := t.TempDir()
			path := filepath.Join(dir, auth.DevKeyFile)
			if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // umask-proof
				t.Fatal(err)
			}
			if _, err := auth.LoadOrCreateDevKey(dir); !errors.Is(err, auth.ErrInvalidDevKey) {
				t.Errorf("LoadOrCreateDevKey() error = %v, want ErrInvalidDevKey", err)
			}
		})
	}
}
