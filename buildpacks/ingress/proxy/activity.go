package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/runyard/runyard/shared/config"
)

// Activity is what the sidecar reports to the control plane.
type Activity struct {
	RuntimeID   string    `json:"runtime_id"`
	LastRequest time.Time `json:"last_request"` // RFC 3339 in JSON
}

// Sender delivers one activity report.
type Sender interface {
	Send(ctx context.Context, a Activity) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, a Activity) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, a Activity) error { return f(ctx, a) }

// HTTPSender POSTs the activity as JSON to URL with the session key as bearer token.
type HTTPSender struct {
	URL    string
	Key    config.Secret
	Client *http.Client
}

// Send posts a; any non-2xx answer is an error.
func (s HTTPSender) Send(ctx context.Context, a Activity) error {
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("activity: marshal: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("activity: new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s.Key != "" {
		req.Header.Set("Authorization", "Bearer "+s.Key.Reveal())
	}
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("activity: post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("activity: post: status %d", resp.StatusCode)
	}
	return nil
}

// Recorder keeps the time of the last request and reports it at most once per interval, in
// the background: a request never waits for a report, and a failed report is only logged.
//
// Begin and End bracket every proxied request, so a long-lived WebSocket counts as activity
// for as long as it is open: Flush (called periodically by the binary) reports "now" while a
// request is in flight, and otherwise the last request if it was not reported yet.
type Recorder struct {
	runtimeID string
	interval  time.Duration
	timeout   time.Duration
	now       func() time.Time
	sender    Sender // nil: record only
	log       *slog.Logger

	mu       sync.Mutex
	last     time.Time // last request seen
	reported time.Time // LastRequest of the last report started
	sentAt   time.Time // when the last report started
	inFlight int
	sending  bool
	wg       sync.WaitGroup
}

// NewRecorder returns a recorder; a nil sender records without reporting.
func NewRecorder(runtimeID string, interval, timeout time.Duration, now func() time.Time, sender Sender, log *slog.Logger) *Recorder {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Recorder{runtimeID: runtimeID, interval: interval, timeout: timeout, now: now, sender: sender, log: log}
}

// Begin records the start of a request and may start a report.
func (r *Recorder) Begin() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight++
	r.last = r.now()
	r.maybeSendLocked()
}

// End records the end of a request (its last moment of activity) and may start a report.
func (r *Recorder) End() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight--
	r.last = r.now()
	r.maybeSendLocked()
}

// Flush reports activity not reported yet, or ongoing requests, if the interval allows.
func (r *Recorder) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inFlight > 0 {
		r.last = r.now()
	}
	r.maybeSendLocked()
}

// Last is the time of the last request, zero before the first.
func (r *Recorder) Last() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Wait blocks until the reports started so far have finished (tests, shutdown).
func (r *Recorder) Wait() { r.wg.Wait() }

func (r *Recorder) maybeSendLocked() {
	now := r.now()
	switch {
	case r.sender == nil, r.sending, r.last.IsZero(), !r.last.After(r.reported):
		return
	case !r.sentAt.IsZero() && now.Sub(r.sentAt) < r.interval:
		return
	}
	a := Activity{RuntimeID: r.runtimeID, LastRequest: r.last.UTC().Truncate(time.Second)}
	r.sending, r.sentAt, r.reported = true, now, r.last
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		defer cancel()
		if err := r.sender.Send(ctx, a); err != nil {
			r.log.Warn("activity report failed", "error", err.Error())
		}
		r.mu.Lock()
		r.sending = false
		r.mu.Unlock()
	}()
}
