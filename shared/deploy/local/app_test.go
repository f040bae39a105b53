package local_test

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// appEnv makes the test binary run as the test app (see TestMain) instead of the tests.
const appEnv = "RUNYARD_LOCALDEPLOY_TEST_APP"

func TestMain(m *testing.M) {
	if os.Getenv(appEnv) == "1" {
		runApp()
		return
	}
	os.Exit(m.Run())
}

// runApp is the app the driver starts in these tests: an HTTP server on $HOST:$PORT.
//
//	GET /          hello $RUNTIME_ID; echoes the X-Echo header
//	GET /env?name= the value of an environment variable
//	GET /environ   the names of all environment variables, one a line
//	GET /pid       its pid
//	GET /cwd       its working directory
//	GET /host      the Host it was asked for
//	GET /stream    "first\n", flushed, then nothing until the client leaves
//	GET /ws        a WebSocket handshake (101), then echoes raw bytes
//
// On $HOST:$VSCODE_PORT it answers every request with "vscode $RUNTIME_ID" (VS Code's port).
// With IGNORE_TERM=1 it ignores SIGTERM.
func runApp() {
	if os.Getenv("IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
	}
	addr := net.JoinHostPort(os.Getenv("HOST"), os.Getenv("PORT"))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("X-Echo"))
		fmt.Fprintf(w, "hello %s", os.Getenv("RUNTIME_ID"))
	})
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, os.Getenv(r.URL.Query().Get("name")))
	})
	mux.HandleFunc("GET /environ", func(w http.ResponseWriter, r *http.Request) {
		var names []string
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			names = append(names, k)
		}
		slices.Sort(names)
		io.WriteString(w, strings.Join(names, "\n"))
	})
	mux.HandleFunc("GET /pid", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strconv.Itoa(os.Getpid()))
	})
	mux.HandleFunc("GET /cwd", func(w http.ResponseWriter, r *http.Request) {
		wd, _ := os.Getwd()
		io.WriteString(w, wd)
	})
	mux.HandleFunc("GET /host", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Host)
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want a websocket upgrade", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			base64.StdEncoding.EncodeToString(sum[:]))
		rw.Flush()
		for {
			line, err := rw.ReadString('\n')
			if err != nil {
				return
			}
			rw.WriteString(line)
			rw.Flush()
		}
	})
	if vs := os.Getenv("VSCODE_PORT"); vs != "" {
		vl, err := net.Listen("tcp", net.JoinHostPort(os.Getenv("HOST"), vs))
		if err != nil {
			fmt.Fprintln(os.Stderr, "app: listen vscode:", err)
			os.Exit(2)
		}
		go http.Serve(vl, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "vscode %s", os.Getenv("RUNTIME_ID"))
		}))
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "app: listen:", err)
		os.Exit(2)
	}
	fmt.Println("app listening on", addr)
	fmt.Fprintln(os.Stderr, "app says hi on stderr")
	err = http.Serve(l, mux)
	fmt.Fprintln(os.Stderr, "app: serve:", err)
	os.Exit(1)
}
