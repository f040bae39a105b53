package auth

import (
	"context"
	"log/slog"
	"slices"
)

// Kind says how a Principal authenticated.
type Kind string

const (
	// KindUser is a person (or Google service account) identified by a verified email: a Google
	// ID token, an IAP JWT, or a local dev token (then Principal.Dev is true).
	KindUser Kind = "user"
	// KindAPIKey is a tenant API key; Tenant, KeyID and Scopes are set, Email is empty.
	KindAPIKey Kind = "api_key"
)

// Issuer values recorded on Principals that do not come from Google.
const (
	// IssuerDev is Principal.Issuer for local dev tokens.
	IssuerDev = "runyard-dev"
)

// Principal is who is calling. It holds identifiers only, never a credential, so it is safe to
// log, put in a context, or serialise.
type Principal struct {
	Kind Kind `json:"kind"`
	// Email is lower-cased. Set for KindUser.
	Email string `json:"email,omitempty"`
	// Subject is the token's stable subject (Google account id; "accounts.google.com:<id>" for
	// IAP). Empty for dev tokens and API keys.
	Subject string `json:"subject,omitempty"`
	// Issuer is the token's iss claim, or IssuerDev. Empty for API keys.
	Issuer string `json:"issuer,omitempty"`
	// Dev is true only for local dev tokens. Cloud authenticators never see such principals
	// because they never construct DevTokens.
	Dev bool `json:"dev,omitempty"`

	// Tenant, KeyID and Scopes are set for KindAPIKey by the authenticator that looked the key
	// up in the store.
	Tenant string   `json:"tenant,omitempty"`
	KeyID  string   `json:"key_id,omitempty"`
	Scopes []string `json:"scopes,omitempty"`
}

// String identifies the principal for logs and messages: "user:alice@example.com",
// "user:alice@example.com (dev)", "api_key:acme/abcd2345efgh". It never contains a secret.
func (p Principal) String() string {
	switch p.Kind {
	case KindUser:
		s := "user:" + p.Email
		if p.Dev {
			s += " (dev)"
		}
		return s
	case KindAPIKey:
		return "api_key:" + p.Tenant + "/" + p.KeyID
	case "":
		return "anonymous"
	default:
		return string(p.Kind) + ":?"
	}
}

// LogValue implements slog.LogValuer with snake_case keys.
func (p Principal) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("kind", string(p.Kind))}
	if p.Email != "" {
		attrs = append(attrs, slog.String("email", p.Email))
	}
	if p.Dev {
		attrs = append(attrs, slog.Bool("dev", true))
	}
	if p.Tenant != "" {
		attrs = append(attrs, slog.String("tenant", p.Tenant))
	}
	if p.KeyID != "" {
		attrs = append(attrs, slog.String("key_id", p.KeyID))
	}
	return slog.GroupValue(attrs...)
}

// HasScope reports whether an API-key principal was granted scope. User principals have no
// scopes; their rights come from tenant membership, checked elsewhere.
func (p Principal) HasScope(scope string) bool {
	return p.Kind == KindAPIKey && slices.Contains(p.Scopes, scope)
}

type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the Principal stored by WithPrincipal, if any.
func PrincipalFromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
