// Package detect decides, deterministically and from manifests only, how to install, build and
// run a repository: provider and language, framework, package manager, runtime version and its
// source, install/build/start commands, port, build strategy and a cache key over exactly the
// files that decide the dependency layer.
//
// Reads are bounded (see Limits): detection lists a bounded number of directory entries to a
// bounded depth, reads only named manifests with a size cap, never follows symlinks out of the
// repository, and reports oversize or malformed manifests as plan warnings instead of failing.
package detect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrNotDetected is returned (wrapped) when nothing in the repository matches a known stack.
var ErrNotDetected = errors.New("detect: no supported stack detected")

// ErrNoStartCommand is returned (wrapped) when a stack is detected but no start command can be
// inferred (for example a Python app without main.py/app.py, or a Ruby app without config.ru);
// set start_cmd in runyard.toml or add a Procfile.
var ErrNoStartCommand = errors.New("detect: stack detected but no start command inferable")

// Strategy values.
const (
	StrategyDockerfile = "dockerfile"
	StrategyCompose    = "compose"
	StrategyBuildpacks = "buildpacks"
	StrategyStatic     = "static"
)

// Limits bound what Detect reads. Zero fields take the defaults (DefaultLimits).
type Limits struct {
	MaxDepth         int   // directory depth walked below the repository root (root = 0)
	MaxEntries       int   // directory entries listed in total
	MaxManifestBytes int64 // larger manifests are skipped with a warning
	MaxHashBytes     int64 // bytes hashed per cache-key input (lockfiles can be large)
}

// DefaultLimits are used for zero Limits fields.
var DefaultLimits = Limits{MaxDepth: 4, MaxEntries: 5000, MaxManifestBytes: 2 << 20, MaxHashBytes: 64 << 20}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultLimits.MaxEntries
	}
	if l.MaxManifestBytes <= 0 {
		l.MaxManifestBytes = DefaultLimits.MaxManifestBytes
	}
	if l.MaxHashBytes <= 0 {
		l.MaxHashBytes = DefaultLimits.MaxHashBytes
	}
	return l
}

// Options configure Detect.
type Options struct {
	// Env holds build-time environment inputs (a repository's project.toml env adds to them).
	// Honoured: RUNYARD_APP_DIR, RUNYARD_START_CMD, NIXPACKS_START_CMD, NIXPACKS_INSTALL_CMD,
	// NIXPACKS_BUILD_CMD, NIXPACKS_NX_APP_NAME, RAILPACK_START_CMD, GOOGLE_ENTRYPOINT,
	// GOOGLE_RUNTIME_VERSION, NODE_VERSION, PYTHON_VERSION, GO_VERSION, NIXPACKS_NODE_VERSION,
	// NIXPACKS_PYTHON_VERSION.
	Env    map[string]string
	Limits Limits
}

// Plan is the decision for one repository. Absent values are nil and encode as JSON null.
type Plan struct {
	Provider                    string   `json:"provider"`                       // detector that matched: node (also Bun apps), deno, python, go, …
	Language                    string   `json:"language"`                       // javascript, python, go, ruby, php, java, rust, csharp, …
	Framework                   *string  `json:"framework"`                      // next, vite, django, flask, fastapi, rails, laravel, spring-boot, phoenix, …
	PackageManager              *string  `json:"package_manager"`                // npm, pnpm, yarn, bun, pip, uv, poetry, gomod, maven, …
	PackageManagerVersion       *string  `json:"package_manager_version"`        // when the repository pins one
	PackageManagerVersionSource *string  `json:"package_manager_version_source"` // where the package manager (version) came from
	RuntimeVersion              *string  `json:"runtime_version"`                // e.g. "22", "3.12", "1.23.2"
	RuntimeVersionSource        *string  `json:"runtime_version_source"`         // ".nvmrc", "go.mod go directive", "default", …
	InstallCmd                  *string  `json:"install_cmd"`                    // InstallCmds joined with " && "
	BuildCmd                    *string  `json:"build_cmd"`                      // BuildCmds joined with " && "
	StartCmd                    *string  `json:"start_cmd"`                      // one shell string
	InstallCmds                 []string `json:"install_cmds"`                   // the install steps
	BuildCmds                   []string `json:"build_cmds"`                     // the build steps
	Port                        *int     `json:"port"`                           // the app's default port when known
	PortEnv                     string   `json:"port_env"`                       // the env variable the app is told its port by
	Strategy                    string   `json:"strategy"`                       // dockerfile, compose, buildpacks or static
	StrategyReason              string   `json:"strategy_reason"`                // why
	StaticRoot                  *string  `json:"static_root"`                    // directory served for static sites
	AppDir                      string   `json:"app_dir"`                        // relative to the repository root, "." for the root
	Candidates                  []string `json:"candidates"`                     // monorepo app directories / workspace members
	CacheKey                    string   `json:"cache_key"`                      // "sha256:…" over the dependency-deciding inputs
	CacheInputs                 []string `json:"cache_inputs"`                   // the files hashed into CacheKey
	Warnings                    []string `json:"warnings"`                       // oversize/malformed manifests, limits reached, …
}

// Detect returns the plan for the repository at dir.
func Detect(ctx context.Context, dir string, opts Options) (*Plan, error) {
	lim := opts.Limits.withDefaults()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("detect: %s is not a directory", dir)
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	r := newRepo(ctx, root, lim)
	if err := r.walk(); err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	ov := loadOverrides(r)
	env := make(map[string]string, len(ov.env)+len(opts.Env))
	for k, v := range ov.env {
		env[k] = v
	}
	for k, v := range opts.Env {
		env[k] = v
	}

	appDir := "."
	if v := env["RUNYARD_APP_DIR"]; v != "" {
		appDir = v
	}
	if ov.AppDir != nil {
		appDir = *ov.AppDir
	}
	appDir = filepath.ToSlash(filepath.Clean(appDir))
	if !filepath.IsLocal(appDir) && appDir != "." {
		return nil, fmt.Errorf("detect: app_dir %q is not inside the repository", appDir)
	}
	a := r.sub(appDir)
	p, derr := detectApp(a, env)
	if derr != nil && errors.Is(derr, ErrNotDetected) && appDir == "." {
		// A monorepo with nothing at the root: look one and two levels down for apps.
		cands := findCandidates(r)
		if len(cands) == 1 {
			a = r.sub(cands[0])
			p, derr = detectApp(a, env)
			if p != nil {
				p.Candidates = cands
			}
		} else if len(cands) > 1 {
			return nil, fmt.Errorf("%w: several app directories found, choose one with app_dir in runyard.toml: %s", ErrNotDetected, strings.Join(cands, ", "))
		}
	}
	hasDocker := r.has("Dockerfile") || r.has("Containerfile") || r.has("dockerfile") || r.has("DOCKERFILE")
	if derr != nil {
		switch {
		case errors.Is(derr, ErrNotDetected) && hasDocker:
			p, derr = &Plan{Provider: "docker", Language: "dockerfile"}, nil
		case errors.Is(derr, ErrNotDetected) && ov.any():
			p, derr = &Plan{Provider: "custom", Language: "unknown"}, nil
		case errors.Is(derr, ErrNotDetected) && configStartOnly(a) != nil:
			// Nothing detected, but the repository's own config says how to start it.
			p, derr = configStartOnly(a), nil
		case errors.Is(derr, ErrNoStartCommand) && p != nil:
			// An env input, runyard.toml or a Dockerfile may still supply the start command.
		default:
			return nil, derr
		}
	}
	p.AppDir = a.prefix
	if p.AppDir == "" {
		p.AppDir = "."
	}
	if p.PortEnv == "" {
		p.PortEnv = "PORT"
	}
	// Strategy: a root Dockerfile/Containerfile wins, then compose, then static, then buildpacks.
	switch {
	case p.Strategy != "":
	case r.has("Dockerfile"), r.has("Containerfile"), r.has("dockerfile"):
		name := "Dockerfile"
		if r.has("Containerfile") && !r.has("Dockerfile") {
			name = "Containerfile"
		}
		p.Strategy, p.StrategyReason = StrategyDockerfile, "a root "+name+" builds the image"
	case composeFile(r) != "":
		p.Strategy, p.StrategyReason = StrategyCompose, "a root "+composeFile(r)+" defines the services (no root Dockerfile)"
	case p.StaticRoot != nil || p.Language == "static":
		p.Strategy, p.StrategyReason = StrategyStatic, "static site: files are served by a static file server"
	default:
		p.Strategy, p.StrategyReason = StrategyBuildpacks, "no Dockerfile or compose file: build from the detected "+p.Provider+" stack"
	}
	if cmd, _ := configStart(a); cmd != "" {
		p.StartCmd = ptr(cmd)
	}
	applyEnv(p, env)
	ov.apply(p)
	if derr != nil && p.StartCmd == nil && p.Strategy != StrategyDockerfile {
		return nil, derr
	}
	p.InstallCmd = joinCmds(p.InstallCmds)
	p.BuildCmd = joinCmds(p.BuildCmds)
	p.Warnings = append(p.Warnings, r.warnings...)
	if p.Warnings == nil {
		p.Warnings = []string{}
	}
	p.CacheKey, p.CacheInputs = cacheKey(a, p)
	return p, nil
}

func composeFile(r *repo) string {
	for _, n := range []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"} {
		if r.has(n) {
			return n
		}
	}
	return ""
}

func joinCmds(cmds []string) *string {
	if len(cmds) == 0 {
		return nil
	}
	s := strings.Join(cmds, " && ")
	return &s
}

func applyEnv(p *Plan, env map[string]string) {
	set := func(dst **string, keys ...string) {
		for _, k := range keys {
			if v := strings.TrimSpace(env[k]); v != "" {
				*dst = &v
				return
			}
		}
	}
	set(&p.StartCmd, "RUNYARD_START_CMD", "NIXPACKS_START_CMD", "RAILPACK_START_CMD", "GOOGLE_ENTRYPOINT")
	if v := strings.TrimSpace(env["NIXPACKS_INSTALL_CMD"]); v != "" {
		p.InstallCmds = []string{v}
	}
	if v := strings.TrimSpace(env["NIXPACKS_BUILD_CMD"]); v != "" {
		p.BuildCmds = []string{v}
	}
	if v := strings.TrimSpace(env["GOOGLE_RUNTIME_VERSION"]); v != "" {
		p.RuntimeVersion, p.RuntimeVersionSource = ptr(v), ptr("env GOOGLE_RUNTIME_VERSION")
	}
	for k, lang := range map[string]string{"NODE_VERSION": "javascript", "PYTHON_VERSION": "python", "GO_VERSION": "go", "NIXPACKS_NODE_VERSION": "javascript", "NIXPACKS_PYTHON_VERSION": "python"} {
		if v := strings.TrimSpace(env[k]); v != "" && p.Language == lang {
			p.RuntimeVersion, p.RuntimeVersionSource = ptr(v), ptr("env "+k)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
