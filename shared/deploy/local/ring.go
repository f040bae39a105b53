package local

import (
	"bytes"
	"strings"
	"sync"
	"unicode/utf8"
)

// ring keeps the last max bytes written to it (at most 2*max in memory, so that trimming costs
// amortized O(1) per byte). It counts every byte ever written, so a reader can ask for what was
// written since a mark. Safe for concurrent use.
type ring struct {
	max int

	mu    sync.Mutex
	buf   []byte
	total int64 // bytes ever written; buf holds the bytes [total-len(buf), total)
}

func newRing(max int) *ring { return &ring{max: max} }

// Write appends p and never fails.
func (r *ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total += int64(len(p))
	if len(p) >= r.max {
		r.buf = append(r.buf[:0], p[len(p)-r.max:]...)
		return len(p), nil
	}
	r.buf = append(r.buf, p...)
	if len(r.buf) > 2*r.max {
		n := copy(r.buf, r.buf[len(r.buf)-r.max:])
		r.buf = r.buf[:n]
	}
	return len(p), nil
}

// Bytes returns a copy of the last max bytes.
func (r *ring) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf[max(len(r.buf)-r.max, 0):])
}

// Total is the number of bytes ever written: a mark for Since.
func (r *ring) Total() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// Since returns a copy of what was written after mark that is still held.
func (r *ring) Since(mark int64) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := min(r.total-mark, int64(len(r.buf)), int64(r.max))
	if n <= 0 {
		return nil
	}
	return bytes.Clone(r.buf[int64(len(r.buf))-n:])
}

// tail returns the end of b: at most lines lines and size bytes, as valid UTF-8 without a
// trailing newline.
func tail(b []byte, lines, size int) string {
	b = bytes.TrimRight(b, "\n")
	if len(b) > size {
		b = b[len(b)-size:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
			b = b[i+1:] // drop the partial first line
		}
	}
	ls := strings.Split(string(b), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	s := strings.Join(ls, "\n")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}
