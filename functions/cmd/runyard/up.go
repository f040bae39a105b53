package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/runyard/runyard/shared/archive"
)

func init() {
	register("up", "run a folder as a runtime: upload, build, deploy, print its URLs (RUNYARD_TOKEN, RUNYARD_API)", runUp)
}

// defaultAPI is the local stack's api.
const defaultAPI = "http://127.0.0.1:8080/api"

// upClient talks to the api as the user.
type upClient struct {
	api, token string
	http       *http.Client
}

// apiError is an error answer of the api.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (%d %s)", e.Message, e.Status, e.Code) }

func (c *upClient) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.api+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal(data, &env)
		return &apiError{Status: resp.StatusCode, Code: env.Error.Code, Message: env.Error.Message}
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (c *upClient) json(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	return c.do(ctx, method, path, "application/json", body, out)
}

type upRuntime struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Reason string `json:"reason"`
	URLs   struct {
		Agent    string            `json:"agent"`
		VSCode   string            `json:"vscode"`
		Previews map[string]string `json:"previews"`
	} `json:"urls"`
}

func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runyard up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tenant := fs.String("tenant", os.Getenv("RUNYARD_TENANT"), "tenant to use or create (default: from your email)")
	port := fs.Int("port", 0, "the app's port for its preview URL (default: the detected plan's, else 8000)")
	wait := fs.Duration("timeout", 15*time.Minute, "how long to wait for the runtime to run")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: runyard up [--tenant T] [--port N] PATH")
		return 2
	}
	c := &upClient{api: strings.TrimRight(envOr("RUNYARD_API", defaultAPI), "/"), token: os.Getenv("RUNYARD_TOKEN"), http: httpClient()}
	if c.token == "" {
		fmt.Fprintln(stderr, "runyard up: set RUNYARD_TOKEN (locally: export RUNYARD_TOKEN=$(runyard dev token --email you@example.com))")
		return 2
	}
	rt, err := up(ctx, c, fs.Arg(0), *tenant, *port, *wait, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "runyard up: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "runtime %s is running\n", rt.ID)
	keys := make([]string, 0, len(rt.URLs.Previews))
	for k := range rt.URLs.Previews {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(stdout, "  preview %s: %s\n", k, rt.URLs.Previews[k])
	}
	if rt.URLs.Agent != "" {
		fmt.Fprintf(stdout, "  agent: %s\n", rt.URLs.Agent)
	}
	return 0
}

// up does the work of runyard up and returns the running runtime.
func up(ctx context.Context, c *upClient, dir, tenant string, port int, wait time.Duration, out io.Writer) (upRuntime, error) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return upRuntime{}, fmt.Errorf("%s is not a folder", dir)
	}
	var me struct {
		Email string `json:"email"`
	}
	if err := c.json(ctx, "GET", "/v1/me", nil, &me); err != nil {
		return upRuntime{}, fmt.Errorf("sign-in: %w", err)
	}
	if tenant == "" {
		tenant = tenantFromEmail(me.Email)
	}
	if err := c.json(ctx, "GET", "/v1/tenants/"+tenant, nil, nil); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
			return upRuntime{}, err
		}
		if err := c.json(ctx, "POST", "/v1/tenants", map[string]string{"id": tenant, "name": me.Email}, nil); err != nil {
			return upRuntime{}, fmt.Errorf("create tenant %s: %w", tenant, err)
		}
		fmt.Fprintf(out, "created tenant %s\n", tenant)
	}
	var buf bytes.Buffer
	if err := archive.CreateTarGz(&buf, dir); err != nil {
		return upRuntime{}, fmt.Errorf("pack %s: %w", dir, err)
	}
	var b struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Cached bool   `json:"cached"`
		Plan   struct {
			Port     *int    `json:"port"`
			Language *string `json:"language"`
			StartCmd *string `json:"start_cmd"`
		} `json:"plan"`
	}
	if err := c.do(ctx, "POST", "/v1/tenants/"+tenant+"/builds", "application/gzip", &buf, &b); err != nil {
		return upRuntime{}, fmt.Errorf("build: %w", err)
	}
	fmt.Fprintf(out, "build %s: %s%s\n", b.ID, b.Status, map[bool]string{true: " (cached image)"}[b.Cached])
	if port == 0 {
		port = 8000
		if b.Plan.Port != nil {
			port = *b.Plan.Port
		}
	}
	var rt upRuntime
	if err := c.json(ctx, "POST", "/v1/tenants/"+tenant+"/runtimes", map[string]any{"build_id": b.ID, "ports": []int{port}}, &rt); err != nil {
		return upRuntime{}, fmt.Errorf("runtime: %w", err)
	}
	deadline := time.Now().Add(wait)
	last := ""
	for {
		if rt.State != last {
			fmt.Fprintf(out, "runtime %s: %s\n", rt.ID, rt.State)
			last = rt.State
		}
		switch rt.State {
		case "running":
			return rt, nil
		case "failed", "stopped", "deleted":
			return rt, fmt.Errorf("runtime %s %s: %s", rt.ID, rt.State, rt.Reason)
		}
		if time.Now().After(deadline) {
			return rt, fmt.Errorf("runtime %s still %s after %s", rt.ID, rt.State, wait)
		}
		select {
		case <-ctx.Done():
			return rt, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		if err := c.json(ctx, "GET", "/v1/tenants/"+tenant+"/runtimes/"+rt.ID, nil, &rt); err != nil {
			return rt, err
		}
	}
}

// tenantFromEmail makes a tenant id from an email's local part: lower-case letters and digits,
// other characters as '-', starting with a letter, 3-27 characters.
func tenantFromEmail(email string) string {
	local, _, _ := strings.Cut(strings.ToLower(email), "@")
	var b strings.Builder
	for _, r := range local {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9' && b.Len() > 0:
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	id := strings.Trim(b.String(), "-")
	if len(id) > 20 {
		id = strings.Trim(id[:20], "-")
	}
	if len(id) < 3 {
		id = "u-" + id
	}
	return strings.Trim(id, "-") + "-dev"
}

func httpClient() *http.Client { return &http.Client{Timeout: 2 * time.Minute} }
