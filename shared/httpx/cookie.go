package httpx

import (
	"net/http"
	"strings"
)

// RemoveCookie drops the named cookie from the Cookie headers, keeping the others verbatim: the
// ingress and the gateway strip their own session cookies before a request reaches an app.
func RemoveCookie(h http.Header, name string) {
	lines := h.Values("Cookie")
	if len(lines) == 0 {
		return
	}
	var kept []string
	changed := false
	for _, line := range lines {
		var pairs []string
		for _, pair := range strings.Split(line, ";") {
			n, _, _ := strings.Cut(strings.TrimSpace(pair), "=")
			if n == name {
				changed = true
				continue
			}
			if strings.TrimSpace(pair) != "" {
				pairs = append(pairs, strings.TrimSpace(pair))
			}
		}
		if len(pairs) > 0 {
			kept = append(kept, strings.Join(pairs, "; "))
		}
	}
	if !changed {
		return
	}
	h.Del("Cookie")
	for _, line := range kept {
		h.Add("Cookie", line)
	}
}
