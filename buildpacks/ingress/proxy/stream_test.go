package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/httpx/httpxtest"
)

// The WebSocket test codec and echo app are httpxtest's.
var (
	wsAccept      = httpxtest.WSAccept
	writeFrame    = httpxtest.WriteFrame
	readFrame     = httpxtest.ReadFrame
	wsEchoBackend = httpxtest.WSEcho
)

func TestWebSocketEcho(t *testing.T) {
	t.Parallel()
	addrs := map[int]string{}
	for port, name := range map[int]string{60000: "agent", 60001: "vscode", 3000: "app3000"} {
		addrs[port] = wsEchoBackend(t, name).Listener.Addr().String()
	}
	base, _ := startIngress(t, loadConfig(t, nil), Deps{Resolver: mapResolver(t, addrs)})
	tests := []struct {
		name, host, path string
		want             []string
	}{
		{name: "agent", path: "/sockets/events/1", want: []string{"agent:hello", "agent:again"}},
		{name: "vscode path", path: "/vscode/stable", want: []string{"vscode:hello", "vscode:again"}},
		{name: "app host", host: "3000-rt1.example.com", path: "/ws", want: []string{"app3000:hello", "app3000:again"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", base.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			host := tc.host
			if host == "" {
				host = base.Listener.Addr().String()
			}
			const key = "dGhlIHNhbXBsZSBub25jZQ=="
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s: %s\r\n\r\n", tc.path, host, key, SessionKeyHeader, testKey)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
				t.Fatalf("upgrade answer %d, accept %q; want 101 and %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"), wsAccept(key))
			}
			var got []string
			for _, msg := range []string{"hello", "again"} {
				if err := writeFrame(conn, 0x1, []byte(msg), true); err != nil {
					t.Fatal(err)
				}
				_, payload, err := readFrame(br)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(payload))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("echoes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStreamingResponse: a flushed chunk reaches the client while the backend still holds
// the rest of the response.
func TestStreamingResponse(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "first\n")
		_ = http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "second\n")
	}))
	t.Cleanup(backend.Close)
	base, _ := startIngress(t, loadConfig(t, nil), Deps{Resolver: mapResolver(t, map[int]string{60000: backend.Listener.Addr().String()})})

	req, _ := http.NewRequest(http.MethodGet, base.URL+"/stream", nil)
	req.Header.Set(SessionKeyHeader, testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n') // blocks forever if the ingress buffers
	if err != nil || first != "first\n" {
		t.Fatalf("first chunk = %q, %v", first, err)
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("rest = %q, %v", rest, err)
	}
}

// TestStreamingRequest: the backend reads the start of a request body the client has not
// finished sending, so the ingress does not buffer uploads.
func TestStreamingRequest(t *testing.T) {
	t.Parallel()
	gotFirst := make(chan string, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			gotFirst <- "error: " + err.Error()
			return
		}
		gotFirst <- string(buf)
		rest, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d more bytes", len(rest))
	}))
	t.Cleanup(backend.Close)
	base, _ := startIngress(t, loadConfig(t, map[string]string{"PREVIEW_POLICY": PreviewPublic}),
		Deps{Resolver: mapResolver(t, map[int]string{60000: backend.Listener.Addr().String(), 3000: backend.Listener.Addr().String()})})

	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, base.URL+"/_port/3000/upload", pr)
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{string(b), err}
	}()
	if _, err := io.WriteString(pw, "first"); err != nil {
		t.Fatal(err)
	}
	if got := <-gotFirst; got != "first" { // blocks forever if the ingress buffers the body
		t.Fatalf("backend first read %q", got)
	}
	if _, err := pw.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	_ = pw.Close()
	res := <-done
	if res.err != nil || res.body != fmt.Sprintf("%d more bytes", 1<<20) {
		t.Fatalf("answer %q, %v", res.body, res.err)
	}
}
