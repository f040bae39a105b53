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
