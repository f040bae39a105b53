package auth

import (
	"context"
	"errors"
	"testing"
)

// TestSafeValidateRecovers: a panic inside idtoken becomes ErrInvalidToken. A nil *Validator
// panics on its first use, which exercises the recover without faking the SDK.
func TestSafeValidateRecovers(t *testing.T) {
	t.Parallel()
	const tok = "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjk5OTk5OTk5OTl9.c2ln" // {"alg":"RS256"}.{"exp":9999999999}.sig
	_, err := safeValidate(context.Background(), nil, tok, "")
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("safeValidate() error = %v, want ErrInvalidToken", err)
	}
}
