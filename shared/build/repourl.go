package build

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// ErrRepoURL: a repository URL Runyard will not fetch.
var ErrRepoURL = errors.New("build: repository URL not allowed")

// DefaultAllowedHosts are the git hosts builds may fetch from unless configured otherwise.
var DefaultAllowedHosts = []string{"github.com", "gitlab.com", "bitbucket.org"}

// ValidateRepoURL checks a repository URL a tenant asks Runyard to fetch and returns it in
// canonical form (lower-case host, no trailing slash or .git). It must be https, on one of
// allowedHosts, without credentials, query, fragment or port, and not an IP address in a
// private, loopback, link-local or unspecified range. Hosts are matched exactly, so an allowed
// host cannot be smuggled in as a suffix or subdomain.
func ValidateRepoURL(raw string, allowedHosts []string) (string, error) {
	bad := func(why string) (string, error) { return "", fmt.Errorf("%w: %s", ErrRepoURL, why) }
	if len(raw) > 2048 {
		return bad("too long")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("not a URL")
	}
	switch {
	case u.Scheme != "https":
		return bad("only https URLs are allowed")
	case u.User != nil:
		return bad("credentials in the URL are not allowed; connect the repository instead")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return bad("query and fragment are not allowed")
	case u.Port() != "":
		return bad("a port is not allowed")
	case u.Opaque != "":
		return bad("not a hierarchical URL")
	}
	host := strings.ToLower(u.Hostname())
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() {
			return bad("private, loopback and link-local addresses are not allowed")
		}
		return bad("IP addresses are not allowed; use a host name")
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".internal") {
		return bad("local host names are not allowed")
	}
	if !slices.Contains(allowedHosts, host) {
		return bad(fmt.Sprintf("host %q is not in the allowed list (%s)", host, strings.Join(allowedHosts, ", ")))
	}
	path := strings.TrimSuffix(strings.TrimSuffix(u.EscapedPath(), "/"), ".git")
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(parts) < 2 {
		return bad("the path must name an owner and a repository")
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, "%\\") {
			return bad("the path has an empty, dot or escaped segment")
		}
	}
	return "https://" + host + "/" + strings.Join(parts, "/"), nil
}
