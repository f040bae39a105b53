package api

import (
	"net/http"

	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/tenancy"
)

// CreateTenantRequest is the body of POST /v1/tenants.
type CreateTenantRequest struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (s *Server) handleCreateTenant(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	var req CreateTenantRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	t, err := s.tenancy.CreateTenant(r.Context(), c, req.ID, req.Name)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/tenants/"+t.ID)
	httpx.JSON(w, r, http.StatusCreated, t)
	return nil
}

// Me is who the caller is.
type Me struct {
	Kind   tenancy.CallerKind `json:"kind"`
	Email  string             `json:"email,omitempty"`
	Tenant string             `json:"tenant,omitempty"`
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	httpx.JSON(w, r, http.StatusOK, Me{Kind: c.Kind, Email: c.Email, Tenant: c.Tenant})
	return nil
}
