package stripehook

import (
	"errors"
	"net/http"

	"github.com/runyard/runyard/shared/billing"
	"github.com/runyard/runyard/shared/httpx"
)

// Server holds the function's dependencies; its methods are the handlers.
type Server struct {
	cfg     Config
	billing *billing.Service
}

// NewServer returns a Server, rejecting missing dependencies.
func NewServer(cfg Config, b *billing.Service) (*Server, error) {
	if b == nil {
		return nil, errors.New("stripehook.NewServer: a billing service is required")
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = DefaultTolerance
	}
	if cfg.EventTTL <= 0 {
		cfg.EventTTL = DefaultEventTTL
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return &Server{cfg: cfg, billing: b}, nil
}

// Error codes of this function beyond httpx's.
const (
	CodeMissingSignature = "missing_signature"
	CodeInvalidSignature = "invalid_signature"
	CodeSignatureExpired = "signature_expired"
	CodeReplayedEvent    = "replayed_event"
	CodeMalformedEvent   = "malformed_event"
	CodeBillingDisabled  = "billing_disabled"
)

// Routes returns the function's router. Paths are relative to the function's root
// (`/stripehook` under runyard dev).
func (s *Server) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", httpx.Health)
	mux.HandleFunc("POST /v1/events", s.handleEvent)
	mux.Handle("/", httpx.NotFoundHandler(mux))
	return mux
}
