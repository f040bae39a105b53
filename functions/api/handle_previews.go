package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/hosts"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/previews"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

// Preview access (domain mode; the gateway enforces it): visibility per runtime port and signed
// preview links. See shared/previews.

// previewAPI holds what the preview endpoints need beyond the Server.
type previewAPI struct {
	store  store.Store
	signer *previews.Signer // nil: PREVIEW_LINK_KEY unset, links refused
}

// Error codes of the preview endpoints.
const (
	CodeLinkNotFound    = "link_not_found"
	CodeTooManyLinks    = "too_many_links"
	CodeLinksDisabled   = "preview_links_disabled"
	CodeNotPreviewPort  = "not_a_preview_port"
	CodeInvalidVisiblty = "invalid_visibility"
)

// VisibilityRequest is the body of PUT …/previews/{port}.
type VisibilityRequest struct {
	Visibility previews.Visibility `json:"visibility"`
}

// LinkRequest is the body of POST …/previews/{port}/links.
type LinkRequest struct {
	// TTLSeconds is the link's lifetime (60 s to 7 days; default 1 hour).
	TTLSeconds int `json:"ttl_seconds"`
}

// LinkAnswer is a new preview link. Token and URL are shown once and never stored.
type LinkAnswer struct {
	previews.Link
	Token string `json:"token"`
	// URL opens the port with the link (empty when the api does not know the runtime domain).
	URL string `json:"url,omitempty"`
}

func newPreviewAPI(st store.Store, key config.Secret) (previewAPI, error) {
	p := previewAPI{store: st}
	if key == "" {
		return p, nil
	}
	var err error
	if p.signer, err = previews.NewSigner([]byte(key.Reveal())); err != nil {
		return p, fmt.Errorf("api: PREVIEW_LINK_KEY: %w", err)
	}
	return p, nil
}

func (s *Server) mountPreviews(mux *http.ServeMux) {
	const base = "/v1/tenants/{t}/runtimes/{r}/previews"
	mux.Handle("GET "+base, s.authed(s.handleGetPreviews))
	mux.Handle("PUT "+base+"/{port}", s.authed(s.handleSetVisibility))
	mux.Handle("POST "+base+"/{port}/links", s.authed(s.handleCreateLink))
	mux.Handle("DELETE "+base+"/{port}/links/{id}", s.authed(s.handleRevokeLink))
}

// previewTarget reads and checks {t}, {r} and (withPort) {port}, authorizes a, and checks the
// runtime exists.
func (s *Server) previewTarget(r *http.Request, c tenancy.Caller, a tenancy.Action, withPort bool) (string, string, int, error) {
	t, id, err := tenantAnd(r, runtimeID)
	if err != nil {
		return "", "", 0, err
	}
	port := 0
	if withPort {
		p := r.PathValue("port")
		n, err := strconv.Atoi(p)
		if err != nil || strconv.Itoa(n) != p || !previews.IsPreviewPort(n) {
			return "", "", 0, httpx.BadRequest(CodeNotPreviewPort, "port must be 1-65535 and not the agent's (60000) or VS Code's (60001)")
		}
		port = n
	}
	if _, err := s.tenancy.Authorize(r.Context(), c, t, a, "runtimes/"+id+"/previews"); err != nil {
		return "", "", 0, err
	}
	if _, err := s.runtimes.Runtimes().Get(r.Context(), t, id); err != nil {
		return "", "", 0, runtimeError(err)
	}
	return t, id, port, nil
}

func (s *Server) handleGetPreviews(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, id, _, err := s.previewTarget(r, c, tenancy.ActRuntimesList, false)
	if err != nil {
		return err
	}
	set, err := previews.Get(r.Context(), s.previews.store, t, id)
	if err != nil {
		return err
	}
	if set.Ports == nil {
		set.Ports = map[string]previews.Visibility{}
	}
	if set.Links == nil {
		set.Links = []previews.Link{}
	}
	httpx.JSON(w, r, http.StatusOK, set)
	return nil
}

func (s *Server) handleSetVisibility(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	var req VisibilityRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	if !req.Visibility.Valid() {
		return httpx.BadRequest(CodeInvalidVisiblty, "visibility must be private, tenant or public")
	}
	t, id, port, err := s.previewTarget(r, c, tenancy.ActPreviewsManage, true)
	if err != nil {
		return err
	}
	set, err := s.modifyPreviews(r.Context(), c, t, id, "visibility "+strconv.Itoa(port)+"="+string(req.Visibility),
		previews.SetVisibility(port, req.Visibility))
	if err != nil {
		return err
	}
	httpx.JSON(w, r, http.StatusOK, set)
	return nil
}

func (s *Server) handleCreateLink(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	var req LinkRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	ttl := previews.DefaultTTL
	if req.TTLSeconds != 0 {
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	if ttl < previews.MinTTL || ttl > previews.MaxTTL {
		return httpx.BadRequest(httpx.CodeInvalidArgument, "ttl_seconds must be %d to %d", int(previews.MinTTL.Seconds()), int(previews.MaxTTL.Seconds()))
	}
	if s.previews.signer == nil {
		return httpx.Errorf(http.StatusNotImplemented, CodeLinksDisabled, "preview links need PREVIEW_LINK_KEY")
	}
	t, id, port, err := s.previewTarget(r, c, tenancy.ActPreviewsManage, true)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	l := previews.Link{ID: previews.NewLinkID(), Port: port, ExpiresAt: now.Add(ttl).Truncate(time.Second), CreatedBy: c.Actor(), CreatedAt: now}
	tok, err := s.previews.signer.Sign(previews.Claims{Tenant: t, Runtime: id, Port: port, Expires: l.ExpiresAt, ID: l.ID})
	if err != nil {
		return err
	}
	if _, err := s.modifyPreviews(r.Context(), c, t, id, "link "+l.ID+" port "+strconv.Itoa(port), previews.AddLink(l, now)); err != nil {
		return err
	}
	ans := LinkAnswer{Link: l, Token: tok}
	if s.cfg.PreviewHost != "" {
		ans.URL = "http://" + hosts.Name(id, port, s.cfg.PreviewHost) + "/?" + previews.TokenParam + "=" + tok
	}
	httpx.JSON(w, r, http.StatusCreated, ans)
	return nil
}

func (s *Server) handleRevokeLink(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	linkID := r.PathValue("id")
	if len(linkID) == 0 || len(linkID) > 32 {
		return httpx.BadRequest(httpx.CodeInvalidID, "link id must be 1-32 characters")
	}
	t, id, port, err := s.previewTarget(r, c, tenancy.ActPreviewsManage, true)
	if err != nil {
		return err
	}
	if _, err := s.modifyPreviews(r.Context(), c, t, id, "revoke link "+linkID, previews.RevokeLink(port, linkID, s.now().UTC())); err != nil {
		return err
	}
	httpx.JSON(w, r, http.StatusNoContent, nil)
	return nil
}

// modifyPreviews applies fn to the runtime's preview settings and writes the audit event in
// the same transaction; a refused change is audited as a failure.
func (s *Server) modifyPreviews(ctx context.Context, c tenancy.Caller, t, id, what string, fn func(*previews.Settings) error) (previews.Settings, error) {
	target := "runtimes/" + id + "/previews"
	now := s.now().UTC()
	var out previews.Settings
	err := s.previews.store.RunTransaction(ctx, func(ctx context.Context, tx store.Tx) error {
		set, err := previews.Modify(tx, t, id, now, fn)
		if err != nil {
			return err
		}
		out = set
		return tenancy.AuditTx(tx, c, t, tenancy.ActPreviewsManage, target, tenancy.OutcomeSuccess, what, now)
	})
	if err != nil {
		s.tenancy.Audit(ctx, c, t, tenancy.ActPreviewsManage, target, tenancy.OutcomeFailure, what)
		switch {
		case errors.Is(err, previews.ErrInvalid):
			return out, httpx.BadRequest(httpx.CodeInvalidArgument, "%s", err.Error())
		case errors.Is(err, previews.ErrTooMany):
			return out, httpx.Errorf(http.StatusTooManyRequests, CodeTooManyLinks, "a runtime may have %d unexpired preview links", previews.MaxLinks)
		case errors.Is(err, previews.ErrNotFound):
			return out, httpx.NotFound(CodeLinkNotFound, "no such link for this port")
		}
		return out, err
	}
	return out, nil
}
