// Package config loads a deployable's configuration from the environment and validates it.
//
// Each deployable declares one Config struct with go-envconfig tags (`env:"NAME, default=…"`),
// embedding the component configs it needs, and a Validate method that reports every problem at
// once with errors.Join. Load runs both steps.
package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/sethvargo/go-envconfig"
)

// Validator is implemented by every Config.
type Validator interface {
	Validate() error
}

// Load fills cfg (a pointer to a struct) from the process environment and validates it.
func Load(ctx context.Context, cfg Validator) error {
	return LoadFrom(ctx, cfg, envconfig.OsLookuper())
}

// LoadFrom is Load with an explicit source of variables (tests use envconfig.MapLookuper).
func LoadFrom(ctx context.Context, cfg Validator, l envconfig.Lookuper) error {
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: cfg, Lookuper: l}); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: invalid:\n%w", err)
	}
	return nil
}

// Problems collects validation failures so Validate can report all of them.
type Problems struct{ errs []error }

// Check records a problem when ok is false.
func (p *Problems) Check(ok bool, format string, args ...any) {
	if !ok {
		p.errs = append(p.errs, fmt.Errorf(format, args...))
	}
}

// Add records err if it is not nil (for nested Validate calls).
func (p *Problems) Add(err error) {
	if err != nil {
		p.errs = append(p.errs, err)
	}
}

// Err returns every recorded problem joined, or nil.
func (p *Problems) Err() error { return errors.Join(p.errs...) }

// Secret is a string that never prints: fmt, slog and JSON show "REDACTED" (or "" when empty).
type Secret string

const redacted = "REDACTED"

func (s Secret) display() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.display() }

// GoString implements fmt.GoStringer, so %#v hides the value too.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.display()) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.display()) }

// MarshalText implements encoding.TextMarshaler (used by encoding/json).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.display()), nil }

// Reveal returns the value, for the one place that must use it.
func (s Secret) Reveal() string { return string(s) }
