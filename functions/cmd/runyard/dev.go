package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"

	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/build"
	buildlocal "github.com/runyard/runyard/shared/build/local"
	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/deploy"
	deploylocal "github.com/runyard/runyard/shared/deploy/local"
	"github.com/runyard/runyard/shared/emulators"
	"github.com/runyard/runyard/shared/events"
	eventspubsub "github.com/runyard/runyard/shared/events/pubsub"
	"github.com/runyard/runyard/shared/hosts"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/identity"
	identitylocal "github.com/runyard/runyard/shared/identity/local"
	"github.com/runyard/runyard/shared/localevents"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/secrets/local"
	"github.com/runyard/runyard/shared/sources/localdir"
	"github.com/runyard/runyard/shared/store/firestore"
	usagesvc "github.com/runyard/runyard/shared/usage"
)

func init() {
	register("dev", "serve every function on 127.0.0.1:$PORT against local emulators (`dev token` mints a sign-in token)", runDevCmd)
}

// devConfig configures the local stack.
type devConfig struct {
	addr      string
	dataDir   string
	projectID string
	logLevel  slog.Level
	// extraEvents adds event functions (tests use it to watch local delivery).
	extraEvents []eventFunction
	// ready receives the base URL once the stack serves.
	ready chan<- string
}

const defaultDataDir = ".runyard"

func runDevCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "token" {
		return runDevToken(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("runyard dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	cfg := devConfig{}
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:"+port, "address to serve on (loopback only)")
	fs.StringVar(&cfg.dataDir, "data-dir", envOr("RUNYARD_DATA_DIR", defaultDataDir), "local data directory (emulator data, dev token key)")
	fs.StringVar(&cfg.projectID, "project", envOr("RUNYARD_PROJECT", "runyard-local"), "project id used with the emulators")
	level := fs.String("log-level", envOr("LOG_LEVEL", "info"), "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.logLevel = logging.ParseLevel(*level)
	if err := runDev(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "runyard dev: %v\n", err)
		return 1
	}
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// refuseCloud stops the local stack (and with it dev tokens) from running on Cloud Run.
func refuseCloud() error {
	for _, k := range []string{"K_SERVICE", "K_REVISION", "CLOUD_RUN_JOB", "FUNCTION_TARGET"} {
		if os.Getenv(k) != "" {
			return fmt.Errorf("refusing to run: %s is set, so this looks like a cloud deployment; the local stack and its dev tokens run only on a developer machine", k)
		}
	}
	return nil
}

// loopback checks that addr names a loopback host.
func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bad address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("address %q is not loopback: the local stack accepts dev tokens and must not be reachable from other machines", addr)
	}
	return nil
}

// runDev starts the emulators, serves every function and delivers Pub/Sub messages to the
// event functions until ctx ends; then it stops everything, exporting the emulator data.
func runDev(ctx context.Context, cfg devConfig, stdout, stderr io.Writer) (err error) {
	if err := refuseCloud(); err != nil {
		return err
	}
	if err := loopback(cfg.addr); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	log := logging.New(stderr, cfg.logLevel)
	ctx = logging.WithLogger(ctx, log)
	key, err := auth.LoadOrCreateDevKey(cfg.dataDir)
	if err != nil {
		return fmt.Errorf("dev token key: %w", err)
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()

	fmt.Fprintln(stdout, "runyard dev: starting the Firestore and Pub/Sub emulators…")
	stopCtx := context.WithoutCancel(ctx)
	fsEmu, err := emulators.StartFirestore(ctx, emulators.Options{DataDir: filepath.Join(cfg.dataDir, "emulators"), Projects: []string{cfg.projectID}})
	if err != nil {
		return err
	}
	defer stopEmulator(stopCtx, fsEmu, &err)
	psEmu, err := emulators.StartPubSub(ctx, emulators.Options{DataDir: filepath.Join(cfg.dataDir, "emulators")})
	if err != nil {
		return err
	}
	defer stopEmulator(stopCtx, psEmu, &err)
	for _, kv := range append(fsEmu.Env(), psEmu.Env()...) {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}

	ps, err := pubsub.NewClient(ctx, cfg.projectID, option.WithoutAuthentication())
	if err != nil {
		return fmt.Errorf("pubsub client: %w", err)
	}
	defer ps.Close()
	publisher := eventspubsub.New(ps)
	defer publisher.Close()
	sec, err := local.New(filepath.Join(cfg.dataDir, "secrets"))
	if err != nil {
		return fmt.Errorf("local secrets: %w", err)
	}
	srcs, err := localdir.New(filepath.Join(cfg.dataDir, "sources"))
	if err != nil {
		return fmt.Errorf("local sources: %w", err)
	}
	builder, err := buildlocal.New(buildlocal.Config{WorkDir: filepath.Join(cfg.dataDir, "builds"), Sources: srcs,
		Publisher: publisher, Topic: TopicCloudBuilds, Logger: log})
	if err != nil {
		return fmt.Errorf("local builder: %w", err)
	}
	defer builder.Close(stopCtx)
	st, err := firestore.New(ctx, cfg.projectID)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer st.Close()
	builds, err := build.NewService(st, builder)
	if err != nil {
		return err
	}
	driver, err := deploylocal.New(deploylocal.Config{WorkDir: filepath.Join(cfg.dataDir, "runtimes"), Secrets: sec, Logger: log})
	if err != nil {
		return fmt.Errorf("local runtime driver: %w", err)
	}
	defer driver.Close(stopCtx)
	cells, err := deploy.ParseCells([]string{localCell(cfg.projectID)})
	if err != nil {
		return err
	}
	rts, err := runtime.NewService(st, cells)
	if err != nil {
		return err
	}
	use, err := usagesvc.NewService(st, usagesvc.Options{Publisher: publisher})
	if err != nil {
		return err
	}
	rts.SetHook(use)
	idm := identitylocal.New()
	ids, err := identity.NewService(st, idm, nil, identity.Config{Projects: []string{cfg.projectID}})
	if err != nil {
		return err
	}
	orch, err := runtime.NewOrchestrator(rts, driver, builds, runtime.OrchestratorConfig{Identity: ids.ForRuntime})
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	bill, err := devBilling(ctx)
	if err != nil {
		return err
	}
	env := devEnv{projectID: cfg.projectID, dev: auth.NewDevTokens(key), base: base, secrets: sec, billing: bill,
		builder: builder, publisher: publisher, sources: srcs, builds: builds, deployer: driver, runtimes: orch,
		previewHost: "localhost:" + port, identity: idm, previewKey: previewKey(key), local: driver}
	mux := http.NewServeMux()
	for _, f := range httpFunctions {
		h, err := f.build(ctx, env)
		if err != nil {
			return fmt.Errorf("function %s: %w", f.name, err)
		}
		mount(mux, f.name, h)
	}
	events := append(append([]eventFunction(nil), eventFunctions...), cfg.extraEvents...)
	var routes []localevents.Route
	for _, f := range events {
		fn, err := f.build(ctx, env)
		if err != nil {
			return fmt.Errorf("function %s: %w", f.name, err)
		}
		h, err := eventHandler(ctx, fn)
		if err != nil {
			return fmt.Errorf("function %s: %w", f.name, err)
		}
		mount(mux, f.name, httpx.Stack(h, httpx.Options{Logger: log}))
		routes = append(routes, localevents.Route{Topic: f.topic, URL: base + "/" + f.name + "/"})
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.Error(w, r, httpx.NotFound(httpx.CodeNotFound, "no function here: functions are served under /<function>/"))
	}))

	topics := devTopics
	for _, f := range events {
		topics = append(topics, f.topic)
	}
	if err := localevents.EnsureTopics(ctx, ps, topics...); err != nil {
		return err
	}
	pusher, err := localevents.Start(ctx, ps, localevents.Config{ProjectID: cfg.projectID, Routes: routes, Logger: log})
	if err != nil {
		return err
	}
	defer pusher.Close()
	go publishTicks(ctx, publisher, time.Minute, log)

	// Runtime hosts under localhost ({runtime}.localhost, vscode-…, work-1-…, {port}-…) go to
	// the gateway, as in domain mode, and through it to the local driver; everything else to
	// the functions.
	gw, err := gatewayFunction.build(ctx, env)
	if err != nil {
		return fmt.Errorf("function %s: %w", gatewayFunction.name, err)
	}
	preview := driver.PreviewHandler(env.previewHost)
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, err := hosts.Parse(r.Host); err == nil && h.Domain == deploylocal.PreviewDomain {
			gw.ServeHTTP(w, r)
			return
		}
		if _, _, ok := deploylocal.ParseHost(r.Host); ok { // runtime ids the host scheme does not take
			preview.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	srv := httpx.NewServer(cfg.addr, root, time.Hour)
	srv.BaseContext = func(net.Listener) context.Context { return ctx }
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "runyard dev: serving on %s (api at %s/api/), data in %s\n", base, base, cfg.dataDir)
	fmt.Fprintf(stdout, "runyard dev: sign in with: runyard dev token --email you@example.com\n")
	if cfg.ready != nil {
		cfg.ready <- base
	}
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-fsEmu.Exited():
		return fmt.Errorf("the Firestore emulator exited:\n%s", fsEmu.LogTail())
	case <-psEmu.Exited():
		return fmt.Errorf("the Pub/Sub emulator exited:\n%s", psEmu.LogTail())
	}
	fmt.Fprintln(stdout, "runyard dev: stopping")
	shutdownCtx, cancel := context.WithTimeout(stopCtx, 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// previewKey derives the local stack's preview link key from its dev token key (both stay in
// the data directory's one secret).
func previewKey(devKey []byte) config.Secret {
	m := hmac.New(sha256.New, devKey)
	m.Write([]byte("runyard preview links"))
	return config.Secret(hex.EncodeToString(m.Sum(nil)))
}

// mount serves h under /<name>/ with the prefix stripped, as each function sees its own root.
func mount(mux *http.ServeMux, name string, h http.Handler) {
	mux.Handle("/"+name+"/", http.StripPrefix("/"+name, h))
}

func stopEmulator(ctx context.Context, e *emulators.Emulator, errp *error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil && *errp == nil {
		*errp = fmt.Errorf("stop %s emulator: %w", e.Kind(), err)
	}
}

// runDevToken prints a dev token for the local stack: `runyard dev token --email x`.
func runDevToken(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runyard dev token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the local user's email (required)")
	ttl := fs.Duration("ttl", 12*time.Hour, "how long the token is valid")
	dataDir := fs.String("data-dir", envOr("RUNYARD_DATA_DIR", defaultDataDir), "local data directory of `runyard dev`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := refuseCloud(); err != nil {
		fmt.Fprintf(stderr, "runyard dev token: %v\n", err)
		return 1
	}
	if *email == "" {
		fmt.Fprintln(stderr, "runyard dev token: --email is required")
		return 2
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		fmt.Fprintf(stderr, "runyard dev token: %v\n", err)
		return 1
	}
	key, err := auth.LoadOrCreateDevKey(*dataDir)
	if err != nil {
		fmt.Fprintf(stderr, "runyard dev token: %v\n", err)
		return 1
	}
	tok, err := auth.NewDevTokens(key).Mint(*email, *ttl)
	if err != nil {
		fmt.Fprintf(stderr, "runyard dev token: %v\n", err)
		return 2
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// publishTicks publishes a tick to sweeper-tick every interval until ctx ends, as the Cloud
// Scheduler job does in the cloud.
func publishTicks(ctx context.Context, pub events.Publisher, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if _, err := pub.Publish(ctx, TopicSweeperTick, []byte("{}"), map[string]string{"type": "sweeper.tick", "time": now.UTC().Format(time.RFC3339)}); err != nil {
				log.WarnContext(ctx, "publish sweeper tick", "error", err)
			}
		}
	}
}
