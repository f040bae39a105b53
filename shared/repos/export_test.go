package repos

import "time"

// SetNow replaces the Hooks' clock (tests).
func (h *Hooks) SetNow(f func() time.Time) { h.now = f }
