// Command ingress is the runtime ingress sidecar: the container of a runtime's Cloud Run
// service that owns the port. It only wires: signals, logger, configuration, the IAP verifier,
// the activity sender, and an HTTP server around proxy.Server (package proxy holds the rules).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/runyard/runyard/buildpacks/ingress/proxy"
	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx); err != nil {
		stop()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	var cfg proxy.Config
	if err := config.Load(ctx, &cfg); err != nil {
		return fmt.Errorf("ingress: %w", err)
	}
	log := logging.New(os.Stdout, logging.ParseLevel(cfg.LogLevel))
	slog.SetDefault(log)

	deps := proxy.Deps{Logger: log}
	if cfg.Mode == proxy.ModeIAP {
		v, err := auth.NewIAPVerifier(ctx, cfg.IAPAudience)
		if err != nil {
			return fmt.Errorf("ingress: %w", err)
		}
		deps.Verifier = v
	}
	if cfg.ActivityURL != "" {
		deps.Sender = proxy.HTTPSender{URL: cfg.ActivityURL, Key: cfg.SessionAPIKey, Client: &http.Client{Timeout: cfg.ActivityTimeout}}
	}
	srv, err := proxy.NewServer(&cfg, deps)
	if err != nil {
		return fmt.Errorf("ingress: %w", err)
	}

	hs := &http.Server{
		Addr:    net.JoinHostPort(cfg.ListenHost, strconv.Itoa(cfg.Port)),
		Handler: srv,
		// No read or write timeout: WebSockets and large uploads live as long as Cloud Run's
		// request timeout allows.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	go flushActivity(ctx, srv.Activity(), cfg.ActivityInterval)

	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	log.InfoContext(ctx, "ingress listening", "addr", hs.Addr, "config", cfg.String())
	select {
	case err := <-errc:
		return fmt.Errorf("ingress: serve: %w", err)
	case <-ctx.Done():
	}
	// Cloud Run gives 10 s after SIGTERM.
	sctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("ingress: shutdown: %w", err)
	}
	srv.Activity().Flush()
	srv.Activity().Wait()
	return nil
}

// flushActivity reports pending activity (and open WebSockets) every interval.
func flushActivity(ctx context.Context, r *proxy.Recorder, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Flush()
		}
	}
}
