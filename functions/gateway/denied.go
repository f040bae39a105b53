package gateway

import (
	"context"
	"html/template"
	"net/http"
	"regexp"
	"strings"

	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/previews"
)

// Brand is what the denial page shows: the tenant's product name, logo, color and support
// link (shared/whitelabel), or Runyard's.
type Brand struct {
	ProductName  string
	LogoURL      string
	PrimaryColor string
	SupportURL   string
}

// DefaultBrand is shown when the tenant has none (or no Brander is configured).
var DefaultBrand = Brand{ProductName: "Runyard", PrimaryColor: "#1f6feb"}

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// clean keeps only safe values: https URLs, #rrggbb colors, a bounded name.
func (b Brand) clean() Brand {
	if b.ProductName == "" || len(b.ProductName) > 80 {
		b.ProductName = DefaultBrand.ProductName
	}
	if !strings.HasPrefix(b.LogoURL, "https://") {
		b.LogoURL = ""
	}
	if !strings.HasPrefix(b.SupportURL, "https://") {
		b.SupportURL = ""
	}
	if !colorRE.MatchString(b.PrimaryColor) {
		b.PrimaryColor = DefaultBrand.PrimaryColor
	}
	return b
}

var deniedPage = template.Must(template.New("denied").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{.Brand.ProductName}} · preview not available</title>
<style>body{font-family:system-ui,sans-serif;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center;background:#f6f8fa;color:#1f2328}
main{max-width:32rem;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.25rem;margin:.75rem 0}img{max-height:40px}a{color:inherit}</style></head>
<body><main style="border-top: 4px solid {{.Brand.PrimaryColor}}">
{{if .Brand.LogoURL}}<img src="{{.Brand.LogoURL}}" alt="{{.Brand.ProductName}}">{{else}}<strong>{{.Brand.ProductName}}</strong>{{end}}
<h1>This preview is not available to you</h1>
<p>{{.Message}}</p>
{{if .Brand.SupportURL}}<p><a href="{{.Brand.SupportURL}}">Contact support</a></p>{{end}}
<p><small>Request {{.RequestID}}</small></p>
</main></body></html>
`))

// deny answers a refused request. App ports (previews, opened in browsers and iframes) get
// the tenant's branded HTML page with the denial's status; the agent and VS Code get the JSON
// envelope their clients read.
func (s *Server) deny(w http.ResponseWriter, r *http.Request, tenant string, port int, d *denial) {
	if d.cause != nil {
		logging.FromContext(r.Context()).InfoContext(r.Context(), "gateway: denied", "code", d.code, "cause", d.cause.Error())
	}
	if !previews.IsPreviewPort(port) || d.status >= 500 {
		httpx.Error(w, r, httpx.Errorf(d.status, d.code, "%s", d.msg))
		return
	}
	b := s.brand(r.Context(), tenant)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; img-src https:; style-src 'unsafe-inline'")
	h.Set("X-Runyard-Error", d.code)
	w.WriteHeader(d.status)
	_ = deniedPage.Execute(w, struct {
		Brand     Brand
		Message   string
		RequestID string
	}{b, d.msg, httpx.RequestIDFrom(r.Context())})
}

func (s *Server) brand(ctx context.Context, tenant string) Brand {
	if s.deps.Branding == nil {
		return DefaultBrand
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.LookupTimeout)
	defer cancel()
	b, err := s.deps.Branding.Brand(ctx, tenant)
	if err != nil {
		logging.FromContext(ctx).WarnContext(ctx, "gateway: branding", "tenant", tenant, "error", err.Error())
		return DefaultBrand
	}
	return b.clean()
}
