package localevents

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
)

// frameworkFn is the function the functions-framework server runs; each test run swaps in its
// own recorder, because registration and the server can only happen once per test binary.
var frameworkFn struct {
	mu sync.Mutex
	r  *recorder
}

// frameworkURL starts functions-framework-go once, serving the CloudEvent function
// "OnLocalEvent" at /OnLocalEvent exactly as a deployed function (and `runyard dev`) would.
var frameworkURL = sync.OnceValues(func() (string, error) {
	// With FUNCTION_TARGET set the framework would serve one function at "/" instead.
	if err := os.Unsetenv("FUNCTION_TARGET"); err != nil {
		return "", err
	}
	functions.CloudEvent("OnLocalEvent", func(ctx context.Context, e event.Event) error {
		frameworkFn.mu.Lock()
		r := frameworkFn.r
		frameworkFn.mu.Unlock()
		return r.handle(ctx, e)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	go funcframework.StartHostPort("127.0.0.1", strconv.Itoa(port)) // serves until the binary exits
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for range 600 { // the server comes up in milliseconds; give it up to a minute
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr + "/OnLocalEvent", nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("functions framework did not listen on %s", addr)
})

func TestFunctionsFramework(t *testing.T) {
	// Not parallel: it swaps the function behind the shared framework server.
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	url, err := frameworkURL()
	if err != nil {
		t.Fatal(err)
	}
	fn := newRecorder(func(n int, _ seen) error {
		if n == 1 {
			return fmt.Errorf("first attempt fails") // the framework answers 500
		}
		return nil
	})
	frameworkFn.mu.Lock()
	frameworkFn.r = fn
	frameworkFn.mu.Unlock()

	project := projectFor(t)
	client := newClient(t, project)
	if err := EnsureTopics(ctx, client, "framework"); err != nil {
		t.Fatal(err)
	}
	p, err := Start(ctx, client, Config{Routes: []Route{{Topic: "framework", URL: url}}, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	id := publish(t, ctx, client, "framework", []byte(`{"runId":"r1"}`), map[string]string{"kind": "run"})

	first, second := fn.next(t, ctx), fn.next(t, ctx)
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	type got struct {
		ID, Type, Source, Data string
		Attributes             map[string]string
	}
	want := got{id, MessagePublishedType, "//pubsub.googleapis.com/projects/" + project + "/topics/framework", `{"runId":"r1"}`, map[string]string{"kind": "run"}}
	for i, s := range []seen{first, second} {
		g := got{s.id, s.typ, s.source, string(s.data.Message.Data), s.data.Message.Attributes}
		if diff := cmp.Diff(want, g); diff != "" {
			t.Errorf("delivery %d mismatch (-want +got):\n%s", i+1, diff)
		}
	}
	if n := fn.count(); n != 2 {
		t.Errorf("function ran %d times, want 2 (one failure, one success)", n)
	}
}
