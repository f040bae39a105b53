package secrets_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/secrets"
)

func TestValidName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "simple", in: "API_KEY", want: true},
		{name: "underscore start", in: "_X", want: true},
		{name: "digits", in: "A1_2", want: true},
		{name: "one char", in: "A", want: true},
		{name: "64 chars", in: strings.Repeat("A", 64), want: true},
		{name: "65 chars", in: strings.Repeat("A", 65)},
		{name: "empty"},
		{name: "lower", in: "lower"},
		{name: "digit start", in: "1ABC"},
		{name: "dash", in: "A-B"},
		{name: "space", in: "A B"},
		{name: "unicode", in: "ÄB"},
		{name: "newline", in: "A\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := secrets.ValidName(tc.in); got != tc.want {
				t.Errorf("ValidName(%q) = %v, want %v", tc.in, got, tc.want)
			}
			err := secrets.CheckName(tc.in)
			if (err == nil) != tc.want || (err != nil && !errors.Is(err, secrets.ErrInvalidName)) {
				t.Errorf("CheckName(%q) = %v", tc.in, err)
			}
		})
	}
}

func TestSecretID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		tenant, sec  string
		want         string
		wantParseErr bool
	}{
		{name: "simple", tenant: "acme", sec: "API_KEY", want: "rt-acme-API_KEY"},
		{name: "dashed tenant", tenant: "acme-corp", sec: "A", want: "rt-acme-corp-A"},
		{name: "longest", tenant: strings.Repeat("a", 27), sec: strings.Repeat("Z", 64), want: "rt-" + strings.Repeat("a", 27) + "-" + strings.Repeat("Z", 64)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, err := secrets.Check(tc.tenant, tc.sec)
			if err != nil || id != tc.want {
				t.Fatalf("Check = %q, %v; want %q", id, err, tc.want)
			}
			if len(id) > secrets.MaxSecretIDLen {
				t.Errorf("id has %d characters", len(id))
			}
			tenant, name, ok := secrets.ParseSecretID(id)
			if !ok || tenant != tc.tenant || name != tc.sec {
				t.Errorf("ParseSecretID(%q) = %q, %q, %v", id, tenant, name, ok)
			}
		})
	}
	for _, bad := range []string{"", "rt-", "rt-acme", "x-acme-A", "rt-acme-a", "rt-ACME-A", "rt-acme-"} {
		if _, _, ok := secrets.ParseSecretID(bad); ok {
			t.Errorf("ParseSecretID(%q) ok", bad)
		}
	}
}

func TestLabels(t *testing.T) {
	t.Parallel()
	got := secrets.Labels("acme", "OPENAI_API_KEY")
	want := map[string]string{"tenant": "acme", "name": "openai_api_key", "managed-by": "runyard"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Labels (-want +got):\n%s", diff)
	}
	if l := secrets.Labels("acme", strings.Repeat("A", 64))["name"]; len(l) != 63 {
		t.Errorf("name label of a 64-character name has %d characters, want 63 (the label limit)", len(l))
	}
}

func TestChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		want     error // nil: err must be nil, unless other
		other    bool  // err is an unrelated error
		wantCode string
	}{
		{name: "empty value", err: secrets.CheckValue(nil), want: secrets.ErrEmptyValue, wantCode: secrets.CodeEmptyValue},
		{name: "max value", err: secrets.CheckValue(make([]byte, secrets.MaxValueBytes))},
		{name: "oversize value", err: secrets.CheckValue(make([]byte, secrets.MaxValueBytes+1)), want: secrets.ErrValueTooLarge, wantCode: secrets.CodeValueTooLarge},
		{name: "bad tenant", err: secrets.CheckTenant("Acme"), want: secrets.ErrInvalidTenant, wantCode: secrets.CodeInvalidTenant},
		{name: "tenant", err: secrets.CheckTenant("acme")},
		{name: "member", err: secrets.CheckMember("serviceAccount:rt-acme@p.iam.gserviceaccount.com")},
		{name: "public member", err: secrets.CheckMember("allUsers"), want: secrets.ErrInvalidMember, wantCode: secrets.CodeInvalidMember},
		{name: "bare email", err: secrets.CheckMember("a@b.c"), want: secrets.ErrInvalidMember, wantCode: secrets.CodeInvalidMember},
		{name: "wrapped not found", err: fmt.Errorf("x: %w", secrets.ErrNotFound), want: secrets.ErrNotFound, wantCode: secrets.CodeNotFound},
		{name: "wrapped unavailable", err: fmt.Errorf("x: %w", secrets.ErrUnavailable), want: secrets.ErrUnavailable, wantCode: secrets.CodeUnavailable},
		{name: "permission", err: secrets.ErrPermission, want: secrets.ErrPermission, wantCode: secrets.CodePermission},
		{name: "other", err: errors.New("boom"), other: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.want == nil && tc.err != nil && !tc.other {
				t.Fatalf("err = %v, want nil", tc.err)
			}
			if tc.want != nil && !errors.Is(tc.err, tc.want) {
				t.Fatalf("err = %v, want %v", tc.err, tc.want)
			}
			if got := secrets.Code(tc.err); got != tc.wantCode {
				t.Errorf("Code = %q, want %q", got, tc.wantCode)
			}
		})
	}
}

func TestCheckVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "empty", in: "", want: "latest"},
		{name: "latest", in: "latest", want: "latest"},
		{name: "number", in: "12", want: "12"},
		{name: "zero", in: "0", wantErr: true},
		{name: "leading zero", in: "01", wantErr: true},
		{name: "negative", in: "-1", wantErr: true},
		{name: "word", in: "LATEST", wantErr: true},
		{name: "huge", in: strings.Repeat("9", 30), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := secrets.CheckVersion(tc.in)
			if tc.wantErr {
				if !errors.Is(err, secrets.ErrInvalidVersion) {
					t.Fatalf("CheckVersion(%q) = %q, %v; want ErrInvalidVersion", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("CheckVersion(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	got, err := secrets.Names([]string{"B", "A", "B", "C"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"A", "B", "C"}, got); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	if _, err := secrets.Names([]string{"A", "b"}); !errors.Is(err, secrets.ErrInvalidName) {
		t.Errorf("Names with a bad name = %v", err)
	}
}
