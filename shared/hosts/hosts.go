// Package hosts is the one host scheme of domain mode (ARCHITECTURE.md §6): the names under a
// runtime domain d (the platform's RUNTIME_DOMAIN, a tenant's verified custom domain, or
// "localhost" under runyard dev) that reach a runtime's ports through the gateway.
//
//	{runtime}.{d}         → the agent server (60000)
//	vscode-{runtime}.{d}  → VS Code (60001)
//	work-1-{runtime}.{d}  → the first app port (12000)
//	work-2-{runtime}.{d}  → the second app port (12001)
//	{port}-{runtime}.{d}  → that port (1-65535, decimal, no leading zero)
//
// Everything that makes these names (api, runtimeapi: Host and URL functions) and everything
// that reads them (the gateway: Parse) uses this package, so the two directions cannot drift.
// The ingress sidecar routes by the same first-label prefixes (buildpacks/ingress/proxy).
//
// A runtime id in a host is 1-46 lowercase letters and digits (runtime.NewID makes 20 of
// [a-z2-7]), never a '-', so a label reads exactly one way.
package hosts

import (
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/runyard/runyard/shared/deploy"
)

// Label prefixes of the named ports.
const (
	PrefixVSCode = "vscode-"
	PrefixWork1  = "work-1-"
	PrefixWork2  = "work-2-"
)

// MaxRuntimeID is the longest runtime id a host may carry ("rt-"+id is a Cloud Run service id).
const MaxRuntimeID = 46

// Host is a parsed runtime host.
type Host struct {
	// Runtime is the runtime id (first label without its prefix).
	Runtime string
	// Port is the runtime's port the host names.
	Port int
	// Domain is everything after the first label, lower-cased, without a trailing dot
	// ("rt.example.com"). The caller decides whether it is a domain it serves.
	Domain string
}

// ErrNotRuntimeHost is Parse's answer for a host that is not in the scheme.
var ErrNotRuntimeHost = errors.New("hosts: not a runtime host")

// Parse reads a Host header value (a :port suffix is ignored, case does not matter, a trailing
// dot is allowed). The host must have a domain of at least one label after the runtime's label.
func Parse(host string) (Host, error) {
	if h, p, err := net.SplitHostPort(host); err == nil {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return Host{}, ErrNotRuntimeHost
		}
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	label, domain, ok := strings.Cut(host, ".")
	if !ok || !validDomain(domain) {
		return Host{}, ErrNotRuntimeHost
	}
	rt, port, ok := parseLabel(label)
	if !ok {
		return Host{}, ErrNotRuntimeHost
	}
	return Host{Runtime: rt, Port: port, Domain: domain}, nil
}

// parseLabel reads the first label: a named prefix, a port prefix, or a bare runtime id.
func parseLabel(label string) (string, int, bool) {
	for _, p := range []struct {
		prefix string
		port   int
	}{{PrefixVSCode, deploy.PortVSCode}, {PrefixWork1, deploy.PortWorker1}, {PrefixWork2, deploy.PortWorker2}} {
		if rt, ok := strings.CutPrefix(label, p.prefix); ok {
			return rt, p.port, ValidRuntimeID(rt)
		}
	}
	if digits, rt, ok := strings.Cut(label, "-"); ok {
		port, pok := parsePort(digits)
		return rt, port, pok && ValidRuntimeID(rt)
	}
	return label, deploy.PortAgent, ValidRuntimeID(label)
}

// ValidRuntimeID reports whether id can appear in a host: 1-46 of [a-z0-9].
func ValidRuntimeID(id string) bool {
	if id == "" || len(id) > MaxRuntimeID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// validDomain: dot-separated labels of [a-z0-9-], each 1-63, not starting or ending with '-'.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}

func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 || s[0] == '0' || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 1 && n <= 65535
}

// Label is the first label that names port of runtime: the bare id for the agent, vscode-,
// work-1-, work-2- for their ports, {port}- for any other.
func Label(runtime string, port int) string {
	switch port {
	case deploy.PortAgent:
		return runtime
	case deploy.PortVSCode:
		return PrefixVSCode + runtime
	case deploy.PortWorker1:
		return PrefixWork1 + runtime
	case deploy.PortWorker2:
		return PrefixWork2 + runtime
	}
	return strconv.Itoa(port) + "-" + runtime
}

// Name is the host of runtime's port under domain (domain may carry a :port, e.g.
// "localhost:8080"): Label(runtime, port) + "." + domain.
func Name(runtime string, port int, domain string) string {
	return Label(runtime, port) + "." + domain
}

// Agent, VSCode and Work are the hosts of the named ports (Work takes 1 or 2).
func Agent(runtime, domain string) string  { return Name(runtime, deploy.PortAgent, domain) }
func VSCode(runtime, domain string) string { return Name(runtime, deploy.PortVSCode, domain) }
func Work(n int, runtime, domain string) string {
	if n == 2 {
		return Name(runtime, deploy.PortWorker2, domain)
	}
	return Name(runtime, deploy.PortWorker1, domain)
}

// URL is scheme://Name(runtime, port, domain), without a trailing slash ("https" in the cloud,
// "http" locally).
func URL(scheme, runtime string, port int, domain string) string {
	return scheme + "://" + Name(runtime, port, domain)
}
