package api

import (
	"net/http"

	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/tenancy"
)

// PutSecretRequest is the body of PUT /v1/tenants/{t}/secrets/{name}. The value is never
// returned, logged, audited or echoed in an error.
type PutSecretRequest struct {
	Value string `json:"value"`
}

// maxSecretBody caps the PUT body: a 64 KiB value JSON-escaped can grow up to six times.
const maxSecretBody = 6*64<<10 + 64

func (s *Server) handlePutSecret(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	t, err := tenantID(r)
	if err != nil {
		return err
	}
	var req PutSecretRequest
	r.Body = http.MaxBytesReader(w, r.Body, maxSecretBody)
	if err := httpx.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	meta, err := s.tenancy.PutSecret(r.Context(), c, t, r.PathValue("name"), []byte(req.Value))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if meta.Version == "1" {
		status = http.StatusCreated
	}
	httpx.JSON(w, r, status, meta)
	return nil
}
