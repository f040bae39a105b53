package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sentLog is a Sender that records reports.
type sentLog struct {
	mu   sync.Mutex
	sent []Activity
	err  error
}

func (l *sentLog) Send(_ context.Context, a Activity) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = append(l.sent, a)
	return l.err
}

func (l *sentLog) all() []Activity {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Activity(nil), l.sent...)
}

// TestRecorderAtMostOncePerMinute drives a Recorder with a fake clock; each step waits for
// the reports it may have started before checking.
func TestRecorderAtMostOncePerMinute(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	t0 := clock.Now()
	log := &sentLog{err: errors.New("control plane down")} // failures are only logged
	r := NewRecorder("rt1", time.Minute, time.Second, clock.Now, log, discardLogger())
	at := func(d time.Duration) Activity { return Activity{RuntimeID: "rt1", LastRequest: t0.Add(d)} }

	steps := []struct {
		name    string
		advance time.Duration
		do      func()
		want    []Activity
	}{
		{name: "first request reports at once", do: r.Begin, want: []Activity{at(0)}},
		{name: "its end at the same instant adds nothing", do: r.End, want: []Activity{at(0)}},
		{name: "30s later: within the minute", advance: 30 * time.Second, do: func() { r.Begin(); r.End() }, want: []Activity{at(0)}},
		{name: "flush within the minute", do: r.Flush, want: []Activity{at(0)}},
		{name: "flush after the minute reports the unreported request", advance: 31 * time.Second, do: r.Flush,
			want: []Activity{at(0), at(30 * time.Second)}},
		{name: "nothing new: flush reports nothing", advance: 2 * time.Minute, do: r.Flush, want: []Activity{at(0), at(30 * time.Second)}},
		{name: "a long request begins", do: r.Begin, want: []Activity{at(0), at(30 * time.Second), at(181 * time.Second)}},
		{name: "it is still open a minute later", advance: time.Minute, do: r.Flush,
			want: []Activity{at(0), at(30 * time.Second), at(181 * time.Second), at(241 * time.Second)}},
		{name: "it ends 10s later: within the minute", advance: 10 * time.Second, do: r.End,
			want: []Activity{at(0), at(30 * time.Second), at(181 * time.Second), at(241 * time.Second)}},
	}
	for _, s := range steps { // sequential: each step depends on the last
		clock.Advance(s.advance)
		s.do()
		r.Wait()
		if diff := cmp.Diff(s.want, log.all()); diff != "" {
			t.Fatalf("%s: reports (-want +got):\n%s", s.name, diff)
		}
	}
	if got, want := r.Last(), t0.Add(251*time.Second); !got.Equal(want) {
		t.Errorf("Last() = %v, want %v", got, want)
	}
}

func TestServerRecordsActivity(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	log := &sentLog{}
	base, s := startIngress(t, loadConfig(t, nil), Deps{Resolver: backends(t), Now: clock.Now, Sender: log})

	if status, _, _ := do(t, base.URL, http.MethodGet, "", AlivePath, nil); status != http.StatusOK {
		t.Fatalf("GET /alive = %d", status)
	}
	do(t, base.URL, http.MethodGet, "", "/api", nil) // 401: not proxied, not activity
	s.Activity().Wait()
	if got := log.all(); len(got) != 0 || !s.Activity().Last().IsZero() {
		t.Fatalf("after /alive and a 401: reports %v, last %v; want none", got, s.Activity().Last())
	}
	for range 3 {
		if status, _, body := do(t, base.URL, http.MethodGet, "", "/api", header(SessionKeyHeader, testKey)); status != http.StatusOK {
			t.Fatalf("GET /api = %d %s", status, body)
		}
	}
	s.Activity().Wait()
	if diff := cmp.Diff([]Activity{{RuntimeID: "rt1", LastRequest: clock.Now()}}, log.all()); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}
}

func TestHTTPSender(t *testing.T) {
	t.Parallel()
	type got struct {
		Method, Auth, ContentType, Body string
	}
	received := make(chan got, 2)
	cp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		received <- got{r.Method, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), strings.TrimSpace(string(b))}
		if strings.Contains(r.URL.Path, "fail") {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(cp.Close)
	a := Activity{RuntimeID: "rt1", LastRequest: time.Date(2026, 11, 23, 12, 0, 5, 0, time.UTC)}

	if err := (HTTPSender{URL: cp.URL + "/activity", Key: testKey, Client: cp.Client()}).Send(context.Background(), a); err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := got{http.MethodPost, "Bearer " + testKey, "application/json", `{"runtime_id":"rt1","last_request":"2026-11-23T12:00:05Z"}`}
	if diff := cmp.Diff(want, <-received); diff != "" {
		t.Errorf("control plane received (-want +got):\n%s", diff)
	}
	err := (HTTPSender{URL: cp.URL + "/fail", Key: testKey, Client: cp.Client()}).Send(context.Background(), a)
	<-received
	if err == nil || !strings.Contains(err.Error(), "status 403") {
		t.Errorf("Send to a failing endpoint: %v, want status 403", err)
	}
}
