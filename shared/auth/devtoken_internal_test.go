package auth

import (
	"errors"
	"testing"
	"time"
)

// TestDevTokensExpiry uses an injected clock: no sleeping, no timed assertions.
func TestDevTokensExpiry(t *testing.T) {
	t.Parallel()
	key := make([]byte, DevKeySize)
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	d := NewDevTokens(key)
	d.now = func() time.Time { return t0 }
	tok, err := d.Mint("alice@example.com", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		at      time.Time
		wantErr error
	}{
		{name: "just minted", at: t0},
		{name: "at exp", at: t0.Add(time.Hour)},
		{name: "one second after exp", at: t0.Add(time.Hour + time.Second), wantErr: ErrTokenExpired},
		{name: "a day later", at: t0.Add(24 * time.Hour), wantErr: ErrTokenExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := NewDevTokens(key)
			v.now = func() time.Time { return tc.at }
			_, err := v.Verify(tok)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Verify() at %v: error = %v, want %v", tc.at, err, tc.wantErr)
			}
		})
	}
}
