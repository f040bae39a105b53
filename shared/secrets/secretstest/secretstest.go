// Package secretstest is the conformance suite of the secrets port (shared/secrets) and an
// in-process Secret Manager for tests. Run checks that a backend behaves as secrets.Manager
// promises: put/access by "latest" and by number, rotation, tenant isolation, delete, tenant
// deletion, idempotent grants, name and value validation with their sentinels, concurrent first
// Puts, and that no error ever carries a value. FakeSecretManager (NewFake) is a gRPC server
// behind the real secretmanager.Client with error injection and IAM inspection.
package secretstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/secrets"
)

// testTimeout bounds each subtest; a hang guard, not a timed assertion.
const testTimeout = time.Minute

// Member is the IAM member the suite grants.
const Member = "serviceAccount:rt-acme@test-project.iam.gserviceaccount.com"

// Run runs the conformance suite; newManager returns a fresh, empty backend for one subtest.
func Run(t *testing.T, newManager func(tb testing.TB) secrets.Manager) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, m secrets.Manager)
	}{
		{"PutAccess", testPutAccess},
		{"Rotation", testRotation},
		{"Isolation", testIsolation},
		{"Delete", testDelete},
		{"DeleteTenant", testDeleteTenant},
		{"GrantAccess", testGrantAccess},
		{"InvalidNames", testInvalidNames},
		{"InvalidArguments", testInvalidArguments},
		{"Values", testValues},
		{"LongestName", testLongestName},
		{"ConcurrentFirstPut", testConcurrentFirstPut},
		{"Copies", testCopies},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			tc.fn(t, ctx, newManager(t))
		})
	}
}

// MustPut stores value and fails tb on error.
func MustPut(tb testing.TB, m secrets.Manager, tenant, name string, value []byte) secrets.Version {
	tb.Helper()
	v, err := m.Put(context.Background(), tenant, name, value)
	if err != nil {
		tb.Fatalf("Put(%s, %s) = %v", tenant, name, err)
	}
	return v
}

// WantValue fails tb unless Access(tenant, name, version) returns want.
func WantValue(tb testing.TB, m secrets.Manager, tenant, name, version string, want []byte) {
	tb.Helper()
	got, err := m.Access(context.Background(), tenant, name, version)
	if err != nil {
		tb.Fatalf("Access(%s, %s, %q) = %v", tenant, name, version, err)
	}
	if !bytes.Equal(got, want) {
		// Values are test data here, but compare by length so a real value could never be printed.
		tb.Fatalf("Access(%s, %s, %q) returned %d bytes different from the %d stored", tenant, name, version, len(got), len(want))
	}
}

// WantErr fails tb unless errors.Is(err, want), and unless err's text is free of each of values.
func WantErr(tb testing.TB, what string, err, want error, values ...[]byte) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("%s: error = %v, want %v", what, err, want)
	}
	NoValueIn(tb, what, err, values...)
}

// NoValueIn fails tb if err's text contains any of values.
func NoValueIn(tb testing.TB, what string, err error, values ...[]byte) {
	tb.Helper()
	if err == nil {
		return
	}
	for _, v := range values {
		if len(v) > 0 && strings.Contains(err.Error(), string(v)) {
			tb.Fatalf("%s: the error text contains a secret value", what)
		}
	}
}

// Printed renders v the ways a careless caller might print it (%v, %+v, %#v, %s), for leak
// tests. A []byte is the value itself by design (Access) and renders as "".
func Printed(v any) string {
	if _, ok := v.([]byte); ok {
		return ""
	}
	return fmt.Sprintf("%v\n%+v\n%#v\n%s\n", v, v, v, v)
}

func testPutAccess(t *testing.T, ctx context.Context, m secrets.Manager) {
	val := []byte("sk-first-value")
	v := MustPut(t, m, "acme", "OPENAI_API_KEY", val)
	if v.Name != "OPENAI_API_KEY" || v.Version != "1" || v.Resource == "" || v.CreatedAt.IsZero() {
		t.Fatalf("Put = %+v, want name OPENAI_API_KEY, version 1, a resource and a time", v)
	}
	if !strings.HasSuffix(v.Resource, "/"+secrets.SecretID("acme", "OPENAI_API_KEY")) {
		t.Errorf("Resource = %q, want it to end in the secret id", v.Resource)
	}
	for _, ver := range []string{"latest", "", "1"} {
		WantValue(t, m, "acme", "OPENAI_API_KEY", ver, val)
	}
	_, err := m.Access(ctx, "acme", "MISSING", "latest")
	WantErr(t, "Access missing", err, secrets.ErrNotFound)
	_, err = m.Access(ctx, "acme", "OPENAI_API_KEY", "2")
	WantErr(t, "Access version 2 of 1", err, secrets.ErrNotFound)
}

func testRotation(t *testing.T, ctx context.Context, m secrets.Manager) {
	v1, v2 := []byte("token-one"), []byte("token-two")
	MustPut(t, m, "acme", "GIT_TOKEN", v1)
	got := MustPut(t, m, "acme", "GIT_TOKEN", v2)
	if got.Version != "2" {
		t.Fatalf("second Put version = %q, want 2", got.Version)
	}
	WantValue(t, m, "acme", "GIT_TOKEN", "latest", v2)
	WantValue(t, m, "acme", "GIT_TOKEN", "1", v1)
	WantValue(t, m, "acme", "GIT_TOKEN", "2", v2)
	_, err := m.Access(ctx, "acme", "GIT_TOKEN", "3")
	WantErr(t, "Access version 3", err, secrets.ErrNotFound, v1, v2)
}

func testIsolation(t *testing.T, ctx context.Context, m secrets.Manager) {
	val := []byte("only-for-acme")
	MustPut(t, m, "acme", "NPM_TOKEN", val)
	_, err := m.Access(ctx, "globex", "NPM_TOKEN", "latest")
	WantErr(t, "other tenant's Access", err, secrets.ErrNotFound, val)
	WantErr(t, "other tenant's Delete", m.Delete(ctx, "globex", "NPM_TOKEN"), secrets.ErrNotFound)
	WantErr(t, "other tenant's GrantAccess", m.GrantAccess(ctx, "globex", []string{"NPM_TOKEN"}, Member), secrets.ErrNotFound)
	WantValue(t, m, "acme", "NPM_TOKEN", "latest", val)
}

func testDelete(t *testing.T, ctx context.Context, m secrets.Manager) {
	v1, v2 := []byte("delete-me-1"), []byte("delete-me-2")
	MustPut(t, m, "acme", "TO_DELETE", v1)
	MustPut(t, m, "acme", "TO_DELETE", v2)
	MustPut(t, m, "acme", "KEEP", []byte("keep"))
	if err := m.Delete(ctx, "acme", "TO_DELETE"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	for _, ver := range []string{"latest", "1", "2"} {
		_, err := m.Access(ctx, "acme", "TO_DELETE", ver)
		WantErr(t, "Access after Delete", err, secrets.ErrNotFound, v1, v2)
	}
	WantErr(t, "second Delete", m.Delete(ctx, "acme", "TO_DELETE"), secrets.ErrNotFound)
	WantErr(t, "Delete never created", m.Delete(ctx, "acme", "NEVER"), secrets.ErrNotFound)
	WantValue(t, m, "acme", "KEEP", "latest", []byte("keep"))
	if v := MustPut(t, m, "acme", "TO_DELETE", []byte("again")); v.Version != "1" {
		t.Errorf("Put after Delete version = %q, want 1 (a new secret)", v.Version)
	}
}

func testDeleteTenant(t *testing.T, ctx context.Context, m secrets.Manager) {
	// acme-corp's ids start with rt-acme-: deleting acme must not touch them.
	for _, n := range []string{"A", "B", "C_LONGER_NAME"} {
		MustPut(t, m, "acme", n, []byte("acme-"+n))
	}
	MustPut(t, m, "acme", "B", []byte("acme-B-2"))
	MustPut(t, m, "acme-corp", "A", []byte("corp-A"))
	MustPut(t, m, "globex", "A", []byte("globex-A"))

	n, err := m.DeleteTenant(ctx, "acme")
	if err != nil || n != 3 {
		t.Fatalf("DeleteTenant(acme) = %d, %v; want 3, nil", n, err)
	}
	for _, name := range []string{"A", "B", "C_LONGER_NAME"} {
		_, err := m.Access(ctx, "acme", name, "latest")
		WantErr(t, "Access after DeleteTenant", err, secrets.ErrNotFound)
	}
	WantValue(t, m, "acme-corp", "A", "latest", []byte("corp-A"))
	WantValue(t, m, "globex", "A", "latest", []byte("globex-A"))

	n, err = m.DeleteTenant(ctx, "acme")
	if err != nil || n != 0 {
		t.Fatalf("second DeleteTenant(acme) = %d, %v; want 0, nil", n, err)
	}
	n, err = m.DeleteTenant(ctx, "initech")
	if err != nil || n != 0 {
		t.Fatalf("DeleteTenant(initech) = %d, %v; want 0, nil", n, err)
	}
	_, err = m.DeleteTenant(ctx, "Bad_Tenant")
	WantErr(t, "DeleteTenant bad tenant", err, secrets.ErrInvalidTenant)
}

func testGrantAccess(t *testing.T, ctx context.Context, m secrets.Manager) {
	MustPut(t, m, "acme", "A", []byte("a"))
	MustPut(t, m, "acme", "B", []byte("b"))
	for i := range 2 {
		if err := m.GrantAccess(ctx, "acme", []string{"B", "A", "A"}, Member); err != nil {
			t.Fatalf("GrantAccess #%d = %v", i+1, err)
		}
	}
	if err := m.GrantAccess(ctx, "acme", nil, Member); err != nil {
		t.Errorf("GrantAccess of no names = %v, want nil", err)
	}
	WantErr(t, "GrantAccess missing", m.GrantAccess(ctx, "acme", []string{"A", "MISSING"}, Member), secrets.ErrNotFound)
	for _, member := range []string{"", "rt-acme@p.iam.gserviceaccount.com", "allUsers", "allAuthenticatedUsers", "serviceAccount:"} {
		WantErr(t, "GrantAccess member "+member, m.GrantAccess(ctx, "acme", []string{"A"}, member), secrets.ErrInvalidMember)
	}
	WantErr(t, "GrantAccess bad name", m.GrantAccess(ctx, "acme", []string{"A", "b"}, Member), secrets.ErrInvalidName)
}

// BadNames are names every backend must refuse with ErrInvalidName.
var BadNames = []string{"lower", "1ABC", "A-B", strings.Repeat("A", secrets.MaxNameLen+1), "", "A B", "ÄB", "A.B", "A\n"}

func testInvalidNames(t *testing.T, ctx context.Context, m secrets.Manager) {
	val := []byte("value-for-a-bad-name")
	for _, name := range BadNames {
		_, err := m.Put(ctx, "acme", name, val)
		WantErr(t, "Put "+name, err, secrets.ErrInvalidName, val)
		if secrets.Code(err) != secrets.CodeInvalidName {
			t.Errorf("Code(Put %q) = %q, want %q", name, secrets.Code(err), secrets.CodeInvalidName)
		}
		_, err = m.Access(ctx, "acme", name, "latest")
		WantErr(t, "Access "+name, err, secrets.ErrInvalidName)
		WantErr(t, "Delete "+name, m.Delete(ctx, "acme", name), secrets.ErrInvalidName)
		WantErr(t, "GrantAccess "+name, m.GrantAccess(ctx, "acme", []string{name}, Member), secrets.ErrInvalidName)
	}
}

func testInvalidArguments(t *testing.T, ctx context.Context, m secrets.Manager) {
	val := []byte("value-for-a-bad-tenant")
	for _, tenant := range []string{"", "A", "Acme", "acme_corp", "acme-", "1acme", strings.Repeat("a", 28)} {
		_, err := m.Put(ctx, tenant, "NAME", val)
		WantErr(t, "Put tenant "+tenant, err, secrets.ErrInvalidTenant, val)
		_, err = m.Access(ctx, tenant, "NAME", "latest")
		WantErr(t, "Access tenant "+tenant, err, secrets.ErrInvalidTenant)
	}
	MustPut(t, m, "acme", "NAME", val)
	for _, ver := range []string{"0", "-1", "x", "01", "1.0", "LATEST", " 1"} {
		_, err := m.Access(ctx, "acme", "NAME", ver)
		WantErr(t, "Access version "+ver, err, secrets.ErrInvalidVersion, val)
	}
}

func testValues(t *testing.T, ctx context.Context, m secrets.Manager) {
	tests := []struct {
		name    string
		value   []byte
		wantErr error
	}{
		{name: "empty", value: []byte{}, wantErr: secrets.ErrEmptyValue},
		{name: "nil", value: nil, wantErr: secrets.ErrEmptyValue},
		{name: "one over", value: bytes.Repeat([]byte("x"), secrets.MaxValueBytes+1), wantErr: secrets.ErrValueTooLarge},
		{name: "exactly max", value: bytes.Repeat([]byte("y"), secrets.MaxValueBytes)},
		{name: "binary", value: []byte{0, 1, 2, 0xff, 0xfe, 0, '\n'}},
		{name: "one byte", value: []byte{'z'}},
	}
	for i, tc := range tests {
		name := "VALUE_" + string(rune('A'+i))
		_, err := m.Put(ctx, "acme", name, tc.value)
		if tc.wantErr != nil {
			WantErr(t, tc.name, err, tc.wantErr, tc.value)
			_, err := m.Access(ctx, "acme", name, "latest")
			WantErr(t, tc.name+": Access after refused Put", err, secrets.ErrNotFound)
			continue
		}
		if err != nil {
			t.Fatalf("%s: Put = %v", tc.name, err)
		}
		WantValue(t, m, "acme", name, "latest", tc.value)
	}
}

func testLongestName(t *testing.T, _ context.Context, m secrets.Manager) {
	name := "L" + strings.Repeat("_9", (secrets.MaxNameLen-1)/2) + "Z"
	if len(name) != secrets.MaxNameLen || !secrets.ValidName(name) {
		t.Fatalf("test name is %d characters, want %d", len(name), secrets.MaxNameLen)
	}
	MustPut(t, m, "abcdefghijklmnopqrstuvwxy-z", name, []byte("long"))
	WantValue(t, m, "abcdefghijklmnopqrstuvwxy-z", name, "latest", []byte("long"))
}

func testConcurrentFirstPut(t *testing.T, ctx context.Context, m secrets.Manager) {
	const n = 4
	var wg sync.WaitGroup
	versions := make([]secrets.Version, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { versions[i], errs[i] = m.Put(ctx, "acme", "RACE", []byte{'v', byte('0' + i)}) })
	}
	wg.Wait()
	var got []string
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Put #%d = %v", i, errs[i])
		}
		got = append(got, versions[i].Version)
		WantValue(t, m, "acme", "RACE", versions[i].Version, []byte{'v', byte('0' + i)})
	}
	slices.Sort(got)
	if diff := cmp.Diff([]string{"1", "2", "3", "4"}, got); diff != "" {
		t.Errorf("versions of concurrent first Puts (-want +got):\n%s", diff)
	}
}

func testCopies(t *testing.T, _ context.Context, m secrets.Manager) {
	in := []byte("original")
	MustPut(t, m, "acme", "COPY", in)
	in[0] = 'X'
	WantValue(t, m, "acme", "COPY", "latest", []byte("original"))
	out, err := m.Access(context.Background(), "acme", "COPY", "latest")
	if err != nil {
		t.Fatalf("Access = %v", err)
	}
	out[0] = 'Y'
	WantValue(t, m, "acme", "COPY", "latest", []byte("original"))
}
