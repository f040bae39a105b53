package tenancy

import (
	"crypto/rand"
	"encoding/base32"
	"math"
	"strconv"
	"strings"
	"time"
)

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newAuditID returns an id that sorts newest first in ascending order (the emulator, and
// Firestore without a descending index, cannot scan document ids in descending order): the
// nanoseconds left until the end of int64 time, fixed-width base 36, then 16 random
// characters.
func newAuditID(t time.Time) string {
	left := strconv.FormatInt(math.MaxInt64-max(t.UnixNano(), 0), 36)
	var b [10]byte
	_, _ = rand.Read(b[:])
	return strings.Repeat("0", 13-len(left)) + left + lowerBase32.EncodeToString(b[:])
}
