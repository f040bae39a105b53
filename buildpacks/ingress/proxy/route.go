package proxy

import (
	"errors"
	"net"
	"strconv"
	"strings"
)

// Kind is what a port serves; it decides the access rule and which credentials are forwarded.
type Kind int

const (
	// KindAgent is the agent server (AGENT_PORT).
	KindAgent Kind = iota + 1
	// KindVSCode is VS Code (VSCODE_PORT), which checks its own connection token.
	KindVSCode
	// KindApp is an app port (WORKER_1, WORKER_2, APP_PORTS): previews.
	KindApp
)

func (k Kind) String() string {
	switch k {
	case KindAgent:
		return "agent"
	case KindVSCode:
		return "vscode"
	case KindApp:
		return "app"
	}
	return "unknown"
}

// Route is where one request goes.
type Route struct {
	Port int
	Kind Kind
	// Strip is the path prefix removed before forwarding ("/vscode", "/_port/3000"), or "".
	Strip string
}

// Routing errors; the server answers both with 404.
var (
	// ErrUnknownPort: the host or path names a port the runtime does not declare.
	ErrUnknownPort = errors.New("unknown port")
	// ErrNoAgent: the request is for the agent but the runtime has none.
	ErrNoAgent = errors.New("no agent port")
)

// Router maps a request's host and path to a port.
type Router struct {
	agent, vscode, work1, work2 int
	kinds                       map[int]Kind
}

// NewRouter returns the router for cfg's ports.
func NewRouter(cfg *Config) *Router {
	r := &Router{agent: cfg.AgentPort, vscode: cfg.VSCodePort, work1: cfg.Worker1, work2: cfg.Worker2, kinds: map[int]Kind{}}
	for _, p := range cfg.appPorts() {
		r.kinds[p] = KindApp
	}
	if cfg.VSCodePort != 0 {
		r.kinds[cfg.VSCodePort] = KindVSCode
	}
	if cfg.AgentPort != 0 {
		r.kinds[cfg.AgentPort] = KindAgent
	}
	return r
}

// Route decides by host first, then by path:
//
//   - host mode: the first label of host starts with vscode-, work-1-, work-2- or {port}- (the
//     domain scheme {prefix}{runtime}.{domain}); the path is forwarded unchanged;
//   - path mode (any other host, e.g. the run.app URL): /vscode/… goes to VS Code and
//     /_port/{n}/… to port n, with that prefix stripped; everything else goes to the agent.
func (r *Router) Route(host, path string) (Route, error) {
	label := firstLabel(host)
	switch {
	case hasPrefixRest(label, "vscode-"):
		return r.port(r.vscode)
	case hasPrefixRest(label, "work-1-"):
		return r.port(r.work1)
	case hasPrefixRest(label, "work-2-"):
		return r.port(r.work2)
	}
	if digits, rest, ok := strings.Cut(label, "-"); ok && rest != "" && isDigits(digits) {
		n, err := strconv.Atoi(digits)
		if err != nil || n <= 0 || n > 65535 {
			return Route{}, ErrUnknownPort
		}
		return r.port(n)
	}

	if path == "/vscode" || strings.HasPrefix(path, "/vscode/") {
		return r.stripped(r.vscode, "/vscode")
	}
	if rest, ok := strings.CutPrefix(path, "/_port/"); ok {
		digits, _, _ := strings.Cut(rest, "/")
		n, err := strconv.Atoi(digits)
		if !isDigits(digits) || err != nil || n <= 0 || n > 65535 {
			return Route{}, ErrUnknownPort
		}
		return r.stripped(n, "/_port/"+digits)
	}
	if r.agent == 0 {
		return Route{}, ErrNoAgent
	}
	return Route{Port: r.agent, Kind: KindAgent}, nil
}

func (r *Router) port(n int) (Route, error) {
	k, ok := r.kinds[n]
	if n == 0 || !ok {
		return Route{}, ErrUnknownPort
	}
	return Route{Port: n, Kind: k}, nil
}

func (r *Router) stripped(n int, prefix string) (Route, error) {
	rt, err := r.port(n)
	if err != nil {
		return Route{}, err
	}
	rt.Strip = prefix
	return rt, nil
}

// firstLabel is the lower-cased first DNS label of a Host value (port removed).
func firstLabel(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	label, _, _ := strings.Cut(host, ".")
	return strings.ToLower(label)
}

func hasPrefixRest(s, prefix string) bool {
	return len(s) > len(prefix) && strings.HasPrefix(s, prefix)
}

func isDigits(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// stripPrefix removes prefix from a path (and its escaped form); the result is never empty.
func stripPrefix(p, prefix string) string {
	if p == "" {
		return ""
	}
	p = strings.TrimPrefix(p, prefix)
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	return p
}
