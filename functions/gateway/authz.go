package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"time"

	"github.com/runyard/runyard/shared/auth"
	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/hosts"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/previews"
	"github.com/runyard/runyard/shared/runtime"
)

// Credentials the gateway reads besides the IAP JWT.
const (
	// SessionKeyHeader and SessionKeyParam carry the runtime's session key (token mode; the
	// ingress sidecar reads the same names).
	SessionKeyHeader = "X-Session-API-Key"
	SessionKeyParam  = "session_api_key"
	// SessionCookie may carry the session key for app ports (as at the sidecar).
	SessionCookie = "runyard_session"
	// VSCodeTokenParam and VSCodeCookie carry VS Code's connection token (openvscode-server's
	// ?tkn= on the first load, then its vscode-tkn cookie).
	VSCodeTokenParam = "tkn"
	VSCodeCookie     = "vscode-tkn"
)

// caller is what authorize learned about who is asking.
type caller struct {
	email string
	// iap: the IAP JWT was verified; member: email is a member of the runtime's tenant.
	iap, member bool
}

// denial is why a request may not pass: status 401 (no credential) or 403 (a credential that
// does not open this port), a stable code and a message for the caller.
type denial struct {
	status int
	code   string
	msg    string
	cause  error
}

// authorize decides by the runtime's mode and the port (README.md, "Who may pass"):
//
//   - a verified IAP user who is a member of the runtime's tenant passes on every port;
//   - agent port: iap mode needs that; token mode also takes the session key (header, or the
//     session_api_key query parameter for WebSockets);
//   - VS Code: iap mode needs a member; token mode also takes the session key header or VS
//     Code's connection token (?tkn= or the vscode-tkn cookie);
//   - app ports: the port's visibility: public passes; tenant passes members; every
//     visibility passes a preview link cookie for exactly this port and the session key (header
//     or runyard_session cookie).
func (s *Server) authorize(r *http.Request, tenant string, port int, rec record) (caller, *denial) {
	var c caller
	if raw := r.Header.Get(auth.IAPHeader); raw != "" && s.deps.Verifier != nil {
		p, err := s.deps.Verifier.Verify(r.Context(), raw)
		switch {
		case errors.Is(err, auth.ErrKeysUnavailable):
			return c, &denial{http.StatusServiceUnavailable, httpx.CodeUnavailable, "cannot check the IAP JWT now; retry", err}
		case errors.Is(err, auth.ErrTokenExpired):
			return c, &denial{http.StatusUnauthorized, httpx.CodeUnauthenticated, "the IAP JWT has expired", err}
		case err != nil:
			return c, &denial{http.StatusUnauthorized, httpx.CodeUnauthenticated, "the IAP JWT is not valid here", err}
		}
		c.email, c.iap = p.Email, true
		ok, err := s.isMember(r.Context(), tenant, p.Email)
		if err != nil {
			return c, &denial{http.StatusServiceUnavailable, httpx.CodeUnavailable, "cannot check membership now; retry", err}
		}
		c.member = ok
	} else if s.deps.Local != nil && rec.rt.Mode == deploy.ModeIAP {
		c.member = true // runyard dev: loopback only, no IAP
	}
	if c.member {
		return c, nil
	}
	rt := rec.rt
	key := r.Header.Get(SessionKeyHeader)
	switch port {
	case deploy.PortAgent:
		if rt.Mode == deploy.ModeToken {
			if key == "" {
				key = r.URL.Query().Get(SessionKeyParam)
			}
			if secretEqual(key, rt.SessionAPIKey) {
				return c, nil
			}
			if key != "" {
				return c, &denial{http.StatusUnauthorized, httpx.CodeUnauthenticated, "the session key is not valid for this runtime", nil}
			}
			return c, &denial{http.StatusUnauthorized, httpx.CodeUnauthenticated, "the session key (X-Session-API-Key) is required", nil}
		}
		return c, s.needMember(c)
	case deploy.PortVSCode:
		if rt.Mode == deploy.ModeToken {
			if secretEqual(key, rt.SessionAPIKey) || secretEqual(r.URL.Query().Get(VSCodeTokenParam), rt.VSCodeToken) || cookieEqual(r, VSCodeCookie, rt.VSCodeToken) {
				return c, nil
			}
			return c, &denial{http.StatusUnauthorized, httpx.CodeUnauthenticated, "VS Code's connection token is required", nil}
		}
		return c, s.needMember(c)
	}
	vis := rec.settings.Visibility(port, defaultVisibility(rt))
	if vis == previews.Public {
		return c, nil
	}
	if secretEqual(key, rt.SessionAPIKey) || cookieEqual(r, SessionCookie, rt.SessionAPIKey) {
		return c, nil
	}
	if ck, err := r.Cookie(previews.Cookie); err == nil && s.signer != nil {
		if _, err := s.signer.Check(ck.Value, tenant, rt.ID, port, s.deps.Now(), rec.settings); err == nil {
			return c, nil
		}
	}
	if vis == previews.Tenant && c.email != "" {
		return c, &denial{http.StatusForbidden, CodePreviewDenied, c.email + " is not a member of the team that owns this preview", nil}
	}
	return c, &denial{http.StatusForbidden, CodePreviewDenied, "this preview is private; ask its owner for a preview link", nil}
}

// needMember is the denial of a port only members open.
func (s *Server) needMember(c caller) *denial {
	switch {
	case c.email != "":
		return &denial{http.StatusForbidden, httpx.CodeForbidden, c.email + " may not use this runtime", nil}
	case s.deps.Verifier == nil:
		return &denial{http.StatusUnauthorized, httpx.CodeUnauthenticated, "this runtime needs an IAP sign-in, and no IAP is in front of the gateway", nil}
	}
	return &denial{http.StatusUnauthorized, httpx.CodeUnauthenticated, "an IAP JWT (" + auth.IAPHeader + ") is required", nil}
}

// defaultVisibility is an app port's visibility when none is set: tenant in iap mode; in token
// mode the runtime's PREVIEW_POLICY (public, else private).
func defaultVisibility(rt runtime.Runtime) previews.Visibility {
	if rt.Mode == deploy.ModeToken {
		if rt.IngressEnv["PREVIEW_POLICY"] == string(previews.Public) {
			return previews.Public
		}
		return previews.Private
	}
	return previews.Tenant
}

// exchangeLink turns ?runyard_token= into the preview cookie (host-only, HttpOnly,
// SameSite=Lax, Secure over HTTPS, until the link expires) and redirects to the same URL
// without the token; an invalid, expired, revoked or other port's link gets the denial page.
func (s *Server) exchangeLink(w http.ResponseWriter, r *http.Request, tenant string, h hosts.Host, rec record) {
	q := r.URL.Query()
	tok := q.Get(previews.TokenParam)
	if s.signer == nil {
		s.deny(w, r, tenant, h.Port, &denial{http.StatusForbidden, CodePreviewDenied, "preview links are not enabled here", nil})
		return
	}
	c, err := s.signer.Check(tok, tenant, rec.rt.ID, h.Port, s.deps.Now(), rec.settings)
	if err != nil {
		msg := "this preview link is not valid"
		switch {
		case errors.Is(err, previews.ErrExpired):
			msg = "this preview link has expired"
		case errors.Is(err, previews.ErrRevoked):
			msg = "this preview link has been revoked"
		case errors.Is(err, previews.ErrWrongPort):
			msg = "this preview link is for another port"
		}
		s.deny(w, r, tenant, h.Port, &denial{http.StatusForbidden, CodePreviewDenied, msg, err})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: previews.Cookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: secureRequest(r), MaxAge: int(time.Until(c.Expires) / time.Second),
		Expires: c.Expires,
	})
	q.Del(previews.TokenParam)
	loc := r.URL.EscapedPath()
	if loc == "" {
		loc = "/"
	}
	if enc := q.Encode(); enc != "" {
		loc += "?" + enc
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, loc, http.StatusSeeOther)
}

// secureRequest: the client reached the load balancer over HTTPS.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

// secretEqual compares in constant time (hashes first, so not even the length leaks).
func secretEqual(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func cookieEqual(r *http.Request, name, want string) bool {
	c, err := r.Cookie(name)
	return err == nil && secretEqual(c.Value, want)
}
