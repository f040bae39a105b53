package local_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/deploy/local"
)

func TestParseHost(t *testing.T) {
	t.Parallel()
	type result struct {
		Runtime string
		Port    int
		OK      bool
	}
	for _, tc := range []struct {
		name string
		host string
		want result
	}{
		{"port form", "8000-rt1.localhost", result{"rt1", 8000, true}},
		{"port form with dev port", "8000-rt1.localhost:8080", result{"rt1", 8000, true}},
		{"worker port", "12000-abc-123.localhost:8080", result{"abc-123", 12000, true}},
		{"bare runtime is the agent", "rt1.localhost", result{"rt1", deploy.PortAgent, true}},
		{"bare runtime with dev port", "rt1.localhost:8080", result{"rt1", deploy.PortAgent, true}},
		{"upper case", "8000-RT1.LocalHost:8080", result{"rt1", 8000, true}},
		{"trailing dot", "8000-rt1.localhost.", result{"rt1", 8000, true}},
		{"port form wins", "80-90-web.localhost", result{"90-web", 80, true}},
		{"max port", "65535-rt.localhost", result{"rt", 65535, true}},
		{"all-digit runtime", "123.localhost", result{"123", deploy.PortAgent, true}},
		{"port out of range is a runtime id", "65536-rt.localhost", result{"65536-rt", deploy.PortAgent, true}},
		{"leading zero is a runtime id", "0800-rt.localhost", result{"0800-rt", deploy.PortAgent, true}},
		{"port zero is a runtime id", "0-rt.localhost", result{"0-rt", deploy.PortAgent, true}},
		{"double dash is a runtime id", "8000--rt.localhost", result{"8000--rt", deploy.PortAgent, true}},
		{"dash-led runtime", "-rt.localhost", result{}},
		{"trailing dash", "8000-rt-.localhost", result{}},
		{"no runtime", "8000-.localhost", result{}},
		{"localhost itself", "localhost:8080", result{}},
		{"empty label", ".localhost", result{}},
		{"two labels", "a.b.localhost", result{}},
		{"other domain", "8000-rt1.example.com", result{}},
		{"suffix only", "8000-rt1localhost", result{}},
		{"underscore", "8000-rt_1.localhost", result{}},
		{"non-numeric dev port", "rt1.localhost:http", result{}},
		{"ipv6", "[::1]:8080", result{}},
		{"empty", "", result{}},
		{"too long runtime", strings.Repeat("a", 47) + ".localhost", result{}},
		{"longest runtime", strings.Repeat("a", 46) + ".localhost", result{strings.Repeat("a", 46), deploy.PortAgent, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got result
			got.Runtime, got.Port, got.OK = local.ParseHost(tc.host)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseHost(%q) (-want +got):\n%s", tc.host, diff)
			}
		})
	}
}

func FuzzParseHost(f *testing.F) {
	for _, s := range []string{
		"8000-rt1.localhost", "rt1.localhost:8080", "80-90-web.localhost", "0800-rt.localhost",
		"a.b.localhost", "[::1]:80", "8000-RT.LOCALHOST.", ":", "-.localhost", "65536-x.localhost:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		rt, port, ok := local.ParseHost(host)
		if !ok {
			if rt != "" || port != 0 {
				t.Fatalf("ParseHost(%q) = %q, %d, false: want zero values", host, rt, port)
			}
			return
		}
		if port < 1 || port > 65535 {
			t.Fatalf("ParseHost(%q): port %d", host, port)
		}
		if _, err := deploy.ServiceName(rt); err != nil || strings.Trim(rt, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || rt[0] == '-' {
			t.Fatalf("ParseHost(%q): runtime id %q", host, rt)
		}
		// The canonical host parses back to the same answer.
		canon := fmt.Sprintf("%d-%s.localhost", port, rt)
		if rt2, port2, ok2 := local.ParseHost(canon); rt2 != rt || port2 != port || !ok2 {
			t.Fatalf("ParseHost(%q) = %q, %d, %v; ParseHost(%q) = %q, %d, %v", host, rt, port, ok, canon, rt2, port2, ok2)
		}
	})
}

func TestPreviewErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, local.Config{})
	e.deploy(t, appSpec(t, "pe"))
	e.waitPhase(t, service(t, "pe"), deploy.PhaseReady)

	// An app that never listens stays deploying.
	spec := appSpec(t, "slow")
	spec.StartCmd = "exec sleep 300"
	e.deploy(t, spec)

	for _, tc := range []struct {
		name       string
		host       string
		wantStatus int
		wantCode   string
		wantRetry  string
	}{
		{"not a preview host", "localhost:8080", http.StatusNotFound, local.CodeRuntimeNotFound, ""},
		{"other domain", "8000-pe.example.com", http.StatusNotFound, local.CodeRuntimeNotFound, ""},
		{"unknown runtime", "8000-nosuch.localhost:8080", http.StatusNotFound, local.CodeRuntimeNotFound, ""},
		{"undeclared port", "9000-pe.localhost:8080", http.StatusNotFound, local.CodePortNotFound, ""},
		{"not listening yet", "8000-slow.localhost:8080", http.StatusServiceUnavailable, local.CodeRuntimeNotReady, "5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.get(t, tc.host, "/")
			if r.status != tc.wantStatus || !strings.Contains(r.body, `"code":"`+tc.wantCode+`"`) || r.header.Get("Retry-After") != tc.wantRetry {
				t.Errorf("GET %s: %d Retry-After=%q %s; want %d Retry-After=%q %s",
					tc.host, r.status, r.header.Get("Retry-After"), r.body, tc.wantStatus, tc.wantRetry, tc.wantCode)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if st := e.status(t, service(t, "slow")); st.Phase != deploy.PhaseDeploying {
		t.Errorf("an app that does not listen: %+v, want deploying", st)
	}
}

// TestVSCodePort: the runtime's VS Code port (60001) reaches the service's own VSCODE_PORT, a
// second loopback port, through PreviewHandler and ServePort alike.
func TestVSCodePort(t *testing.T) {
	t.Parallel()
	e := newEnv(t, local.Config{})
	e.deploy(t, appSpec(t, "vs"))
	e.waitPhase(t, service(t, "vs"), deploy.PhaseReady)
	if r := e.get(t, "60001-vs.localhost:8080", "/anything"); r.status != http.StatusOK || r.body != "vscode vs" {
		t.Errorf("60001 host: %d %q", r.status, r.body)
	}
	if r := e.get(t, "8000-vs.localhost:8080", "/"); r.status != http.StatusOK || r.body != "hello vs" {
		t.Errorf("app port: %d %q", r.status, r.body)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.d.ServePort(w, r, "vs", deploy.PortVSCode) }))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || string(b) != "vscode vs" {
		t.Errorf("ServePort(60001): %d %q", resp.StatusCode, b)
	}
}

func TestPreviewDomain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, local.Config{})
	e.deploy(t, appSpec(t, "dom"))
	e.waitPhase(t, service(t, "dom"), deploy.PhaseReady)
	for _, devHost := range []string{"", "localhost:8080", "runyard.test", "RUNYARD.TEST:9000"} {
		srv := httptest.NewServer(e.d.PreviewHandler(devHost))
		t.Cleanup(srv.Close)
		domain := strings.ToLower(strings.Split(devHost, ":")[0])
		if domain == "" {
			domain = "localhost"
		}
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "8000-dom." + domain + ":8080"
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || string(body) != "hello dom" {
			t.Errorf("devHost %q, Host %s: %d %s", devHost, req.Host, res.StatusCode, body)
		}
	}
}

// TestPreviewWebSocket: an Upgrade passes through and the connection carries bytes both ways.
func TestPreviewWebSocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t, local.Config{})
	e.deploy(t, appSpec(t, "ws"))
	e.waitPhase(t, service(t, "ws"), deploy.PhaseReady)

	conn, err := net.Dial("tcp", e.preview.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: 8000-ws.localhost:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read handshake: %v", err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("handshake: %s %v", res.Status, res.Header)
	}
	for _, msg := range []string{"ping\n", "second message\n"} {
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
		got, err := br.ReadString('\n')
		if err != nil || got != msg {
			t.Fatalf("echo: %q, %v; want %q", got, err, msg)
		}
	}
}

// TestPreviewStreams: a response is flushed as the app writes it, not when it ends.
func TestPreviewStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, local.Config{})
	e.deploy(t, appSpec(t, "st"))
	e.waitPhase(t, service(t, "st"), deploy.PhaseReady)

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.preview.URL+"/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "8000-st.localhost"
	res, err := e.preview.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	// The app writes no more until we leave: reading this line proves it was not buffered.
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line: %q, %v", line, err)
	}
}
