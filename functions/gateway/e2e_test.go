package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/buildpacks/ingress/proxy"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/hosts"
	"github.com/runyard/runyard/shared/httpx/httpxtest"
)

// ingressBackend is the runtime service as domain mode deploys it: the real ingress sidecar
// (buildpacks/ingress/proxy) in gateway mode in front of a WebSocket echo app on the agent,
// VS Code, work-1 and 3000 ports and a streaming app on work-2.
func ingressBackend(t *testing.T, release <-chan struct{}) http.Handler {
	t.Helper()
	addrs := map[int]string{}
	for port, name := range map[int]string{60000: "agent", 60001: "vscode", 12000: "work1", 3000: "app3000"} {
		addrs[port] = wsEchoApp(t, name).Listener.Addr().String()
	}
	stream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n\n")
		http.NewResponseController(w).Flush()
		<-release
		fmt.Fprint(w, "data: second\n\n")
	}))
	t.Cleanup(stream.Close)
	addrs[12001] = stream.Listener.Addr().String()
	cfg := &proxy.Config{Port: 8080, Mode: proxy.ModeGateway, RuntimeID: "e2e", AgentPort: 60000, VSCodePort: 60001,
		Worker1: 12000, Worker2: 12001, AppPorts: []int{3000}, UpstreamHost: "127.0.0.1", PreviewPolicy: proxy.PreviewToken,
		ReadyCache: time.Second, DialTimeout: 2 * time.Second, RetryAfter: 5 * time.Second,
		ActivityInterval: time.Minute, ActivityTimeout: time.Second}
	s, err := proxy.NewServer(cfg, proxy.Deps{Resolver: func(port int) string { return addrs[port] },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWebSocketThroughGatewayAndSidecar: client → gateway → ingress sidecar → app, for each
// named host; frames echo both ways through both proxies, and a streamed response arrives
// while the app still holds the rest.
func TestWebSocketThroughGatewayAndSidecar(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	e := newEnv(t, envOptions{backend: ingressBackend(t, release)})
	rt := e.runtime(t, "acme", deploy.ModeToken, nil)
	tests := []struct {
		name, host, path string
		hdr              string
		want             []string
	}{
		{name: "agent", host: hosts.Agent(rt.ID, domain), path: "/sockets/events/1?session_api_key=" + rt.SessionAPIKey, want: []string{"agent:hello", "agent:again"}},
		{name: "vscode", host: hosts.VSCode(rt.ID, domain), path: "/stable?tkn=" + rt.VSCodeToken, want: []string{"vscode:hello", "vscode:again"}},
		{name: "work-1", host: hosts.Work(1, rt.ID, domain), path: "/ws", hdr: "Cookie: runyard_session=" + rt.SessionAPIKey + "\r\n", want: []string{"work1:hello", "work1:again"}},
		{name: "port 3000", host: hosts.Name(rt.ID, 3000, domain), path: "/ws", hdr: "X-Session-API-Key: " + rt.SessionAPIKey + "\r\n", want: []string{"app3000:hello", "app3000:again"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", e.gw.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			const key = "dGhlIHNhbXBsZSBub25jZQ=="
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n", tt.path, tt.host, key, tt.hdr)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("upgrade answer %d: %s", resp.StatusCode, b)
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
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("echoes (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("streaming", func(t *testing.T) {
		t.Parallel()
		req, _ := http.NewRequest(http.MethodGet, e.gw.URL+"/events", nil)
		req.Host = hosts.Work(2, rt.ID, domain)
		req.Header.Set("X-Session-API-Key", rt.SessionAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		if err != nil || line != "data: first\n" {
			t.Fatalf("first event %q, %v (status %d)", line, err, resp.StatusCode)
		}
		close(release) // the app sends the rest only now: the first event came unbuffered
		rest, _ := io.ReadAll(br)
		if !strings.Contains(string(rest), "data: second") {
			t.Errorf("rest %q", rest)
		}
	})
}

// The WebSocket test codec and echo app are httpxtest's.
var (
	wsAccept   = httpxtest.WSAccept
	writeFrame = httpxtest.WriteFrame
	readFrame  = httpxtest.ReadFrame
	wsEchoApp  = httpxtest.WSEcho
)
