package api

import (
	"net/http"
	"strings"

	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/tenancy"
)

// AddMemberRequest is the body of POST /v1/tenants/{t}/members.
type AddMemberRequest struct {
	Email string       `json:"email"`
	Role  tenancy.Role `json:"role"`
}

func (s *Server) handleAddMember(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	var req AddMemberRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	m, err := s.tenancy.AddMember(r.Context(), c, t, req.Email, req.Role)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/tenants/"+t+"/members/"+m.Email)
	httpx.JSON(w, r, http.StatusCreated, m)
	return nil
}

// memberID returns the {user} path value: a lower-cased email.
func memberID(r *http.Request) (string, error) {
	u := strings.ToLower(r.PathValue("user"))
	if !tenancy.ValidEmail(u) {
		return "", httpx.BadRequest(httpx.CodeInvalidID, "member id must be an email address")
	}
	return u, nil
}
