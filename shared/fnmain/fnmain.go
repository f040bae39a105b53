// Package fnmain holds what every function shares around its handler: LazyEvent builds a
// CloudEvent function's handler on first use, and Run is the body of every function image's main (functions/<name>/cmd): the main
// imports its function package, whose init registers the function, and calls Run, which serves
// it with the functions framework on $PORT (8080 when unset). The Go functions buildpack
// cannot build a function below the module root, hence one small main per function.
package fnmain

import (
	"context"
	"log"
	"log/slog"
	"os"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

// Run serves the registered functions until the process ends.
func Run() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("funcframework.Start: %v", err)
	}
}

// LazyEvent returns a CloudEvent function that builds its handler once, on the first event,
// so importing a function package never dials a cloud API. When building fails, every event
// answers the error (Eventarc redelivers) and the cause is logged.
func LazyEvent[H interface {
	Handle(context.Context, event.Event) error
}](name string, build func() (H, error)) func(context.Context, event.Event) error {
	handler := sync.OnceValues(build)
	return func(ctx context.Context, e event.Event) error {
		h, err := handler()
		if err != nil {
			slog.ErrorContext(ctx, name+": start", "error", err)
			return err
		}
		return h.Handle(ctx, e)
	}
}
