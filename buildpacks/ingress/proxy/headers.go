package proxy

import (
	"net/http"
	"strings"

	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/httpx"
)

// Header names the sidecar reads or strips.
const (
	// SessionKeyHeader carries the OpenHands session API key.
	SessionKeyHeader = "X-Session-API-Key"
	// SessionCookie may carry the session key for app ports under PREVIEW_POLICY=token, for
	// browsers that cannot set headers. The sidecar reads it; it never issues it.
	SessionCookie = "runyard_session"
)

// secureResponse adds the security headers to a proxied response and makes every cookie it sets
// host-only, so no runtime's cookie reaches another runtime under the same parent domain.
func secureResponse(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	cookies := h["Set-Cookie"]
	for i, c := range cookies {
		cookies[i] = dropCookieDomain(c)
	}
}

// dropCookieDomain removes every Domain attribute from a Set-Cookie value, leaving the other
// attributes as they were. A cookie without Domain is sent back only to the exact host.
func dropCookieDomain(setCookie string) string {
	parts := strings.Split(setCookie, ";")
	out := parts[:1]
	for _, a := range parts[1:] {
		name, _, _ := strings.Cut(a, "=")
		if strings.EqualFold(strings.TrimSpace(name), "domain") {
			continue
		}
		out = append(out, a)
	}
	if len(out) == len(parts) {
		return setCookie
	}
	return strings.Join(out, ";")
}

// stripCredentials removes from an outbound request the credentials the sidecar consumed. The
// agent keeps the IAP assertion and the session key (OpenHands' agent checks the key itself);
// VS Code and app ports get neither. The runyard_session cookie never leaves the sidecar.
func stripCredentials(h http.Header, k Kind, mode string) {
	if k != KindAgent {
		h.Del(auth.IAPHeader)
		h.Del(SessionKeyHeader)
	}
	// Cloud Run passes the invoker's ID token on (signature stripped); the runtime never needs it.
	h.Del("X-Serverless-Authorization")
	if mode == ModeToken {
		// Without IAP in front these are whatever the client claimed.
		h.Del("X-Goog-Authenticated-User-Email")
		h.Del("X-Goog-Authenticated-User-Id")
	}
	httpx.RemoveCookie(h, SessionCookie)
}
