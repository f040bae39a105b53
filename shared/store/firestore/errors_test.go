package firestore

import (
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runyard/runyard/shared/store"
)

func TestTxError(t *testing.T) {
	t.Parallel()
	errFn := errors.New("fn failed")
	tests := []struct {
		name    string
		err     error
		want    error // errors.Is target
		wantErr string
		same    bool // the very error of the function comes back
	}{
		{"aborted after retries", status.Error(codes.Aborted, "too much contention"), store.ErrConflict, "", false},
		{"function's aborted read", txFnError{fmt.Errorf("get: %w", status.Error(codes.Aborted, "lock"))}, store.ErrConflict, "", false},
		{"function's error", txFnError{errFn}, errFn, "fn failed", true},
		{"function's sentinel", txFnError{store.ErrNotFound}, store.ErrNotFound, "store: not found", true},
		{"commit: create of an existing document", status.Error(codes.AlreadyExists, "exists"), store.ErrAlreadyExists, "", false},
		{"commit: not found", status.Error(codes.NotFound, "gone"), store.ErrNotFound, "", false},
		{"other", status.Error(codes.Unavailable, "down"), nil, "firestore.Client.RunTransaction: rpc error: code = Unavailable desc = down", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := txError("firestore.Client.RunTransaction", store.Key{}, tc.err)
			if tc.want != nil && !errors.Is(got, tc.want) {
				t.Errorf("txError = %v, want errors.Is %v", got, tc.want)
			}
			if tc.wantErr != "" && got.Error() != tc.wantErr {
				t.Errorf("txError = %q, want %q", got.Error(), tc.wantErr)
			}
			var fe txFnError
			if tc.same && (got != errors.Unwrap(tc.err) || errors.As(got, &fe)) {
				t.Errorf("txError = %#v, want the function's error itself", got)
			}
		})
	}
}

func TestWrap(t *testing.T) {
	t.Parallel()
	k := store.Key{Tenant: "acme", Kind: "things", ID: "a"}
	tests := []struct {
		name string
		code codes.Code
		want error
	}{
		{"not found", codes.NotFound, store.ErrNotFound},
		{"already exists", codes.AlreadyExists, store.ErrAlreadyExists},
		{"failed precondition", codes.FailedPrecondition, store.ErrConflict},
		{"aborted", codes.Aborted, store.ErrConflict},
		{"unavailable", codes.Unavailable, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			orig := status.Error(tc.code, "x")
			got := wrap("firestore.DocumentRef.Get", k, orig)
			if tc.want != nil && !errors.Is(got, tc.want) {
				t.Errorf("wrap = %v, want errors.Is %v", got, tc.want)
			}
			for _, s := range []error{store.ErrNotFound, store.ErrAlreadyExists, store.ErrConflict} {
				if s != tc.want && errors.Is(got, s) {
					t.Errorf("wrap = %v, unexpectedly Is %v", got, s)
				}
			}
			if status.Code(got) != tc.code {
				t.Errorf("status.Code(wrap) = %v, want %v (the original error stays in the chain)", status.Code(got), tc.code)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 23, 1, 2, 3, 4000, time.UTC)
	q := store.Query{Where: []store.Filter{{Field: "a", Value: 1}, {Field: "b", Value: at}}}
	fp := fingerprint("acme", "things", q)
	c := encodeCursor("doc-1", fp)
	got, err := decodeCursor(c, fp)
	if err != nil || got != "doc-1" {
		t.Fatalf("decodeCursor(encodeCursor) = %q, %v; want doc-1", got, err)
	}

	same := []struct {
		name string
		q    store.Query
	}{
		{"filters reordered", store.Query{Where: []store.Filter{{Field: "b", Value: at}, {Field: "a", Value: 1}}}},
		{"time in another zone", store.Query{Where: []store.Filter{{Field: "a", Value: 1}, {Field: "b", Value: at.In(time.FixedZone("x", 3600))}}}},
		{"other limit", store.Query{Where: q.Where, Limit: 7}},
	}
	for _, tc := range same {
		if got := fingerprint("acme", "things", tc.q); got != fp {
			t.Errorf("%s: fingerprint changed", tc.name)
		}
	}
	differ := []struct {
		name         string
		tenant, kind string
		q            store.Query
	}{
		{"tenant", "other", "things", q},
		{"kind", "acme", "others", q},
		{"order", "acme", "things", store.Query{Where: q.Where, Desc: true}},
		{"value type", "acme", "things", store.Query{Where: []store.Filter{{Field: "a", Value: int64(1)}, {Field: "b", Value: at}}}},
		{"value", "acme", "things", store.Query{Where: []store.Filter{{Field: "a", Value: 2}, {Field: "b", Value: at}}}},
		{"fewer filters", "acme", "things", store.Query{Where: q.Where[:1]}},
	}
	seen := map[string]string{fp: "base"}
	for _, tc := range differ {
		got := fingerprint(tc.tenant, tc.kind, tc.q)
		if other, ok := seen[got]; ok {
			t.Errorf("%s: fingerprint equals that of %s", tc.name, other)
		}
		seen[got] = tc.name
		if _, err := decodeCursor(c, got); !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("%s: decodeCursor = %v, want ErrInvalidCursor", tc.name, err)
		}
	}
	for _, bad := range []string{"", "!", "e30", encodeCursor("a/b", fp), encodeCursor("", fp)} {
		if _, err := decodeCursor(bad, fp); !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("decodeCursor(%q) = %v, want ErrInvalidCursor", bad, err)
		}
	}
	if diff := cmp.Diff(`{"id":"doc-1","q":"`+fp+`"}`, mustDecode(t, c)); diff != "" {
		t.Errorf("cursor JSON (-want +got):\n%s", diff)
	}
}

func mustDecode(tb testing.TB, c string) string {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		tb.Fatalf("base64: %v", err)
	}
	return string(b)
}
