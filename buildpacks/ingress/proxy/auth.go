package proxy

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/logging"
)

// checkIAP verifies the IAP JWT (iap mode: every request) and the optional ALLOWED_EMAILS list.
// IAP itself admits only the tenant's members (roles/iap.httpsResourceAccessor on the service).
func (s *Server) checkIAP(r *http.Request) error {
	raw := r.Header.Get(auth.IAPHeader)
	if raw == "" {
		return httpx.Unauthenticated(httpx.CodeUnauthenticated, "an IAP JWT (%s) is required", auth.IAPHeader)
	}
	p, err := s.deps.Verifier.Verify(r.Context(), raw)
	switch {
	case errors.Is(err, auth.ErrKeysUnavailable):
		return httpx.Errorf(http.StatusServiceUnavailable, httpx.CodeUnavailable, "cannot check the IAP JWT now; retry").WithCause(err)
	case errors.Is(err, auth.ErrTokenExpired):
		return httpx.Unauthenticated(httpx.CodeUnauthenticated, "the IAP JWT has expired").WithCause(err)
	case err != nil:
		return httpx.Unauthenticated(httpx.CodeUnauthenticated, "the IAP JWT is not valid for this runtime").WithCause(err)
	}
	if len(s.allowed) > 0 && !s.allowed[p.Email] {
		return httpx.Forbidden("%s may not use this runtime", p.Email)
	}
	logging.FromContext(r.Context()).DebugContext(r.Context(), "iap user", "principal", p)
	return nil
}

// SessionKeyParam is the query parameter that may carry the session key to the agent (browsers
// cannot set headers on WebSockets; OpenHands sends ?session_api_key=).
const SessionKeyParam = "session_api_key"

// checkToken applies token mode's rule for the route's kind: the agent needs the session key
// (header, or the session_api_key query parameter); VS Code checks its own connection token;
// app ports follow PREVIEW_POLICY (token: the key in the header or the runyard_session cookie)
// and never see a session_api_key query parameter.
func (s *Server) checkToken(r *http.Request, k Kind) error {
	switch k {
	case KindVSCode:
		return nil
	case KindAgent:
		if q := r.Header.Get(SessionKeyHeader); q == "" {
			if v := queryValue(r.URL.RawQuery, SessionKeyParam); v != "" {
				if !s.keyMatches(v) {
					return httpx.Unauthenticated(httpx.CodeUnauthenticated, "the session key is not valid for this runtime")
				}
				return nil
			}
		}
	case KindApp:
		r.URL.RawQuery = dropQuery(r.URL.RawQuery, SessionKeyParam)
		if s.cfg.PreviewPolicy == PreviewPublic {
			return nil
		}
		if c, err := r.Cookie(SessionCookie); err == nil && s.keyMatches(c.Value) {
			return nil
		}
	}
	key := r.Header.Get(SessionKeyHeader)
	if key == "" {
		return httpx.Unauthenticated(httpx.CodeUnauthenticated, "the session key (%s) is required", SessionKeyHeader)
	}
	if !s.keyMatches(key) {
		return httpx.Unauthenticated(httpx.CodeUnauthenticated, "the session key is not valid for this runtime")
	}
	return nil
}

// queryValue is the first value of name in a raw query ("" when absent or malformed).
func queryValue(raw, name string) string {
	for _, part := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(part, "=")
		if key, err := url.QueryUnescape(k); err == nil && key == name {
			if val, err := url.QueryUnescape(v); err == nil {
				return val
			}
			return ""
		}
	}
	return ""
}

// dropQuery removes every name parameter from a raw query, keeping the rest as it was.
func dropQuery(raw, name string) string {
	if raw == "" {
		return raw
	}
	parts := strings.Split(raw, "&")
	kept := parts[:0]
	for _, part := range parts {
		k, _, _ := strings.Cut(part, "=")
		if key, err := url.QueryUnescape(k); err == nil && key == name {
			continue
		}
		kept = append(kept, part)
	}
	return strings.Join(kept, "&")
}

// keyMatches compares in constant time (hashes first, so not even the length leaks).
func (s *Server) keyMatches(got string) bool {
	h := hashKey(got)
	return got != "" && subtle.ConstantTimeCompare(h[:], s.keyHash[:]) == 1
}

func hashKey(k string) [32]byte { return sha256.Sum256([]byte(k)) }
