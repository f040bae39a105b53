package githubhook

import (
	"errors"
	"net/http"

	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/repos"
)

// Server holds the function's dependencies; its methods are the handlers.
type Server struct {
	cfg   Config
	hooks *repos.Hooks
	pre   Prebuilder
}

// NewServer returns a Server, rejecting missing dependencies.
func NewServer(cfg Config, hooks *repos.Hooks, pre Prebuilder) (*Server, error) {
	if hooks == nil || pre == nil {
		return nil, errors.New("githubhook.NewServer: hooks and prebuilder are required")
	}
	return &Server{cfg: cfg, hooks: hooks, pre: pre}, nil
}

// Error codes of this function beyond httpx's.
const (
	CodeInvalidSignature = "invalid_signature"
	CodeInvalidDelivery  = "invalid_delivery"
	CodeInvalidEvent     = "invalid_event"
)

// Routes returns the function's router. Paths are relative to the function's root
// (`/githubhook` under runyard dev).
func (s *Server) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", httpx.Health)
	mux.HandleFunc("POST /v1/hooks/{tenant}/{repo}", s.handleHook)
	mux.Handle("/", httpx.NotFoundHandler(mux))
	return mux
}
