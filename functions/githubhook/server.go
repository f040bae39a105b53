package githubhook

import (
	"errors"
	"net/http"
	"strings"

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
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.JSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("POST /v1/hooks/{tenant}/{repo}", s.handleHook)
	mux.Handle("/", notFound(mux))
	return mux
}

// notFound answers unrouted requests with an envelope: 405 (with Allow) when the path exists
// for other methods, else 404.
func notFound(mux *http.ServeMux) http.Handler {
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range methods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			httpx.Error(w, r, &httpx.APIError{Status: http.StatusMethodNotAllowed, Code: httpx.CodeMethodNotAllowed,
				Message: "method not allowed; use " + strings.Join(allow, ", "), Allow: allow})
			return
		}
		httpx.Error(w, r, httpx.NotFound(httpx.CodeNotFound, "no such endpoint"))
	})
}
