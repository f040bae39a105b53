package githubhook

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"ref":"refs/heads/main"}`)
	secret := []byte("s3cret")
	good := SignatureHeader(body, secret)
	tests := []struct {
		name    string
		header  string
		body    []byte
		secret  []byte
		wantErr bool
	}{
		{name: "good", header: good, body: body, secret: secret},
		{name: "upper-case hex", header: "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), body: body, secret: secret},
		{name: "empty body", header: SignatureHeader(nil, secret), body: nil, secret: secret},
		{name: "missing", header: "", body: body, secret: secret, wantErr: true},
		{name: "wrong secret", header: SignatureHeader(body, []byte("other")), body: body, secret: secret, wantErr: true},
		{name: "other body", header: good, body: []byte(`{"ref":"refs/heads/evil"}`), secret: secret, wantErr: true},
		{name: "sha1", header: "sha1=" + strings.TrimPrefix(good, "sha256="), body: body, secret: secret, wantErr: true},
		{name: "no prefix", header: strings.TrimPrefix(good, "sha256="), body: body, secret: secret, wantErr: true},
		{name: "short", header: good[:len(good)-1], body: body, secret: secret, wantErr: true},
		{name: "long", header: good + "0", body: body, secret: secret, wantErr: true},
		{name: "not hex", header: "sha256=" + strings.Repeat("g", 64), body: body, secret: secret, wantErr: true},
		{name: "empty secret", header: SignatureHeader(body, nil), body: body, secret: nil, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := VerifySignature(tc.header, tc.body, tc.secret)
			if (err != nil) != tc.wantErr {
				t.Fatalf("VerifySignature = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrSignature) {
				t.Errorf("error %v is not ErrSignature", err)
			}
		})
	}
}

func TestParsePush(t *testing.T) {
	t.Parallel()
	const c = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name       string
		body       string
		wantErr    bool
		wantBranch string
		wantBuilds bool
		wantActor  string
	}{
		{name: "push", body: `{"ref":"refs/heads/main","after":"` + c + `","sender":{"login":"dev"},"extra":{"x":1}}`, wantBranch: "main", wantBuilds: true, wantActor: "github:dev"},
		{name: "pusher only", body: `{"ref":"refs/heads/a/b","after":"` + c + `","pusher":{"name":"p"}}`, wantBranch: "a/b", wantBuilds: true, wantActor: "github:p"},
		{name: "deleted", body: `{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000","deleted":true}`, wantBranch: "main", wantActor: "github"},
		{name: "zero after without deleted", body: `{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}`, wantBranch: "main", wantActor: "github"},
		{name: "tag", body: `{"ref":"refs/tags/v1","after":"` + c + `"}`, wantBuilds: true, wantActor: "github"},
		{name: "upper-case commit", body: `{"ref":"refs/heads/main","after":"` + strings.ToUpper(c) + `"}`, wantBranch: "main", wantActor: "github"},
		{name: "not json", body: `ref=main`, wantErr: true},
		{name: "array", body: `[]`, wantErr: true},
		{name: "null", body: `null`, wantErr: true},
		{name: "two objects", body: `{"ref":"a","after":"b"}{}`, wantErr: true},
		{name: "no ref", body: `{"after":"` + c + `"}`, wantErr: true},
		{name: "no after", body: `{"ref":"refs/heads/main"}`, wantErr: true},
		{name: "ref wrong type", body: `{"ref":1,"after":"x"}`, wantErr: true},
		{name: "huge ref", body: `{"ref":"` + strings.Repeat("a", maxRefLen+1) + `","after":"x"}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev, err := ParsePush([]byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParsePush = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrPayload) {
					t.Errorf("error %v is not ErrPayload", err)
				}
				return
			}
			branch, _ := ev.Branch()
			got := []any{branch, ev.BuildsCommit(), ev.Actor()}
			if diff := cmp.Diff([]any{tc.wantBranch, tc.wantBuilds, tc.wantActor}, got); diff != "" {
				t.Errorf("branch, builds, actor (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJSONPayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, contentType, body, want string
		wantErr                       error
	}{
		{name: "json", contentType: "application/json", body: `{}`, want: `{}`},
		{name: "json charset", contentType: "application/json; charset=utf-8", body: `{}`, want: `{}`},
		{name: "none", body: `{}`, want: `{}`},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: "payload=%7B%7D", want: `{}`},
		{name: "form without payload", contentType: "application/x-www-form-urlencoded", body: "x=1", wantErr: ErrPayload},
		{name: "form with two payloads", contentType: "application/x-www-form-urlencoded", body: "payload=1&payload=2", wantErr: ErrPayload},
		{name: "text", contentType: "text/plain", body: `{}`, wantErr: ErrMediaType},
		{name: "garbage type", contentType: ";;", body: `{}`, wantErr: ErrMediaType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := jsonPayload(tc.contentType, []byte(tc.body))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("jsonPayload error = %v, want %v", err, tc.wantErr)
			}
			if err == nil && string(got) != tc.want {
				t.Errorf("jsonPayload = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := Config{ProjectID: "p", RequestTimeout: DefaultRequestTimeout, MaxBodyBytes: DefaultMaxBodyBytes, DeliveryTTL: DefaultDeliveryTTL}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{name: "good", mod: func(*Config) {}},
		{name: "no project", mod: func(c *Config) { c.ProjectID = "" }, wantErr: "GOOGLE_CLOUD_PROJECT"},
		{name: "no timeout", mod: func(c *Config) { c.RequestTimeout = 0 }, wantErr: "REQUEST_TIMEOUT"},
		{name: "tiny body", mod: func(c *Config) { c.MaxBodyBytes = 10 }, wantErr: "MAX_BODY_BYTES"},
		{name: "short ttl", mod: func(c *Config) { c.DeliveryTTL = 0 }, wantErr: "DELIVERY_TTL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := good
			tc.mod(&c)
			err := c.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Validate = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
