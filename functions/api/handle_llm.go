package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/identity"
	"github.com/runyard/runyard/shared/tenancy"
)

// LLMRequest is the body of PUT /v1/tenants/{t}/llm.
type LLMRequest struct {
	// VertexAI turns keyless Vertex AI access for the tenant's runtimes on or off.
	VertexAI bool `json:"vertex_ai"`
	// Models are the Vertex AI model ids the runtimes may call (required when on).
	Models []string `json:"models"`
}

// Error codes of the LLM setting endpoints.
const (
	CodeUnknownModel      = "unknown_model"
	CodeTenantIdentityOff = "tenant_identity_off"
	CodeIdentityFailed    = "identity_unavailable"
)

// mountLLM adds GET and PUT /v1/tenants/{t}/llm.
func (s *Server) mountLLM(mux *http.ServeMux) {
	mux.Handle("GET /v1/tenants/{t}/llm", s.authed(s.llmErrors(getHandler(nil, tenantOnly(func(ctx context.Context, c tenancy.Caller, t string) (identity.LLMSetting, error) {
		return s.identity.GetLLM(ctx, c, t)
	})))))
	mux.Handle("PUT /v1/tenants/{t}/llm", s.authed(s.llmErrors(s.handlePutLLM)))
}

// handlePutLLM records the tenant's LLM access setting and applies its grant.
func (s *Server) handlePutLLM(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	var req LLMRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	out, err := s.identity.PutLLM(r.Context(), c, t, identity.LLM{VertexAI: req.VertexAI, Models: req.Models})
	if err != nil {
		return err
	}
	httpx.JSON(w, r, http.StatusOK, out)
	return nil
}

// llmErrors maps the identity package's errors; the rest go to asAPIError.
func (s *Server) llmErrors(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
		if s.identity == nil {
			return httpx.Errorf(http.StatusNotImplemented, CodeTenantIdentityOff,
				"runtimes share one identity on this installation (RUNTIME_IDENTITY=shared); per-tenant LLM access needs tenant identities")
		}
		err := h(w, r, c)
		detail := func(sentinel error) string {
			return strings.TrimPrefix(strings.TrimPrefix(err.Error(), sentinel.Error()), ": ")
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, identity.ErrUnknownModel):
			return httpx.BadRequest(CodeUnknownModel, "models: unknown model %s", detail(identity.ErrUnknownModel))
		case errors.Is(err, identity.ErrInvalid):
			return httpx.BadRequest(httpx.CodeInvalidArgument, "%s", detail(identity.ErrInvalid))
		case errors.Is(err, identity.ErrNotFound), errors.Is(err, identity.ErrForeign), errors.Is(err, identity.ErrPermission),
			errors.Is(err, identity.ErrUnavailable), errors.Is(err, identity.ErrQuota):
			return httpx.Errorf(http.StatusServiceUnavailable, CodeIdentityFailed,
				"the setting is recorded but its grant could not be applied; repeat the request").WithCause(err)
		}
		return err
	}
}
