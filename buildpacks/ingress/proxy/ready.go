package proxy

import (
	"context"
	"net"
	"sync"
	"time"
)

// DialFunc connects to an address (net.Dialer.DialContext's shape).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// readiness answers "does the main container accept TCP on its ready port?" lazily: the first
// request after the cached answer expires dials once, concurrent requests wait for that dial.
type readiness struct {
	addr func() string
	ttl  time.Duration
	now  func() time.Time
	dial DialFunc

	mu      sync.Mutex
	checked time.Time
	ready   bool
}

// Ready reports whether the main container accepts connections, reusing an answer younger than
// the cache time.
func (r *readiness) Ready(ctx context.Context) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if !r.checked.IsZero() && now.Sub(r.checked) < r.ttl {
		return r.ready
	}
	// Not the caller's cancellation: a client that gives up must not make the runtime look
	// unready to everyone else for the cache time. The dialer has its own timeout.
	conn, err := r.dial(context.WithoutCancel(ctx), "tcp", r.addr())
	if err == nil {
		_ = conn.Close()
	}
	r.ready, r.checked = err == nil, now
	return r.ready
}

// Forget drops the cached answer (the proxy could not connect: the container may have gone).
func (r *readiness) Forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checked = time.Time{}
}
