package githubhook

import (
	"crypto/hmac"
	"encoding/hex"
	"strings"
	"testing"
)

// FuzzVerifySignature: no input panics; only the exact HMAC of the body (hex in either case,
// with the sha256= prefix) verifies.
func FuzzVerifySignature(f *testing.F) {
	body, secret := []byte(`{"ref":"refs/heads/main"}`), []byte("s3cret")
	f.Add(SignatureHeader(body, secret), body, secret)
	f.Add("sha256=", body, secret)
	f.Add("sha1=0000", []byte{}, []byte("k"))
	f.Add("sha256="+strings.Repeat("zz", 32), body, secret)
	f.Add(SignatureHeader(body, nil), body, []byte{})
	f.Fuzz(func(t *testing.T, header string, body, secret []byte) {
		err := VerifySignature(header, body, secret)
		want := Sign(body, secret)
		hexSig, hasPrefix := strings.CutPrefix(header, "sha256=")
		got, decErr := hex.DecodeString(hexSig)
		matches := hasPrefix && decErr == nil && len(secret) > 0 && hmac.Equal(got, want)
		if (err == nil) != matches {
			t.Fatalf("VerifySignature(%q) = %v; exact HMAC match = %v", header, err, matches)
		}
		if len(secret) > 0 {
			if err := VerifySignature(SignatureHeader(body, secret), body, secret); err != nil {
				t.Fatalf("own signature rejected: %v", err)
			}
		}
	})
}

// FuzzParsePush: no input panics; an accepted payload has a bounded ref and an after, and a
// payload that builds names a branch only with a full commit.
func FuzzParsePush(f *testing.F) {
	for _, s := range []string{
		`{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567","sender":{"login":"x"}}`,
		`{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000","deleted":true}`,
		`{"ref":"refs/tags/v1","after":"x"}`, `{"ref":1}`, `[]`, `null`, `{`, `{"ref":"a","after":"b"} {}`,
		`{"ref":"refs/heads/","after":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParsePush(body)
		if err != nil {
			return
		}
		if ev.Ref == "" || len(ev.Ref) > maxRefLen || ev.After == "" {
			t.Fatalf("accepted %+v", ev)
		}
		if b, ok := ev.Branch(); ok && b == "" {
			t.Fatalf("empty branch from %q", ev.Ref)
		}
		if ev.BuildsCommit() && (ev.Deleted || zeroCommit(ev.After) || (len(ev.After) != 40 && len(ev.After) != 64)) {
			t.Fatalf("builds %+v", ev)
		}
		_ = ev.Actor()
	})
}
