package api

import (
	"net/http"

	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/tenancy"
)

// CreateAPIKeyRequest is the body of POST /v1/tenants/{t}/apikeys.
type CreateAPIKeyRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

// CreateAPIKeyResponse is the new key with its secret, shown this once.
type CreateAPIKeyResponse struct {
	tenancy.APIKey
	Key string `json:"key"`
}

func (s *Server) handleCreateAPIKey(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	var req CreateAPIKeyRequest
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	k, plaintext, err := s.tenancy.CreateAPIKey(r.Context(), c, t, req.Name, req.Scopes)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/tenants/"+t+"/apikeys/"+k.ID)
	httpx.JSON(w, r, http.StatusCreated, CreateAPIKeyResponse{APIKey: k, Key: plaintext})
	return nil
}

// keyID returns the {id} path value, validated.
func keyID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !tenancy.ValidKeyID(id) {
		return "", httpx.BadRequest(httpx.CodeInvalidID, "API key id must be 1-32 characters of a-z and 0-9")
	}
	return id, nil
}
