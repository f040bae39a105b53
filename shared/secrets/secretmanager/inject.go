package secretmanager

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runyard/runyard/shared/secrets"
)

// EnvRef asks for one secret in a runtime's environment.
type EnvRef struct {
	// Env is the variable's name in the container; empty means Name.
	Env string
	// Name is the tenant's secret name.
	Name string
	// Version is "latest" (the default when empty) or a version number; Cloud Run resolves
	// "latest" when an instance starts.
	Version string
}

var (
	envRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`)
	saRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*@[a-z0-9.-]+$`)
	// reservedEnv are names Cloud Run sets itself and refuses in a service's env.
	reservedEnv = map[string]bool{"PORT": true, "K_SERVICE": true, "K_REVISION": true, "K_CONFIGURATION": true}
)

// RuntimeEnv is the runtime injection contract: it returns the Cloud Run env entries that give
// tenant's runtime the secrets refs name, as Secret Manager references (never values), sorted by
// env name, after granting serviceAccount (an email, e.g. rt-acme@P.iam.gserviceaccount.com)
// roles/secretmanager.secretAccessor on exactly those secrets.
//
// Every ref is validated first (ErrInvalidName for a bad secret or env name or a duplicate env,
// ErrInvalidVersion, ErrInvalidMember for a bad account), then each referenced version is
// checked to exist and be enabled: ErrNotFound names every missing one. Only then are grants made,
// so a failed call grants nothing.
func (m *Manager) RuntimeEnv(ctx context.Context, tenant string, refs []EnvRef, serviceAccount string) ([]*runpb.EnvVar, error) {
	if err := secrets.CheckTenant(tenant); err != nil {
		return nil, err
	}
	if !saRE.MatchString(serviceAccount) {
		return nil, fmt.Errorf("%w: want a service account email", secrets.ErrInvalidMember)
	}
	type entry struct{ env, name, version, res string }
	entries := make([]entry, 0, len(refs))
	envs := map[string]bool{}
	for _, r := range refs {
		id, err := secrets.Check(tenant, r.Name)
		if err != nil {
			return nil, err
		}
		v, err := secrets.CheckVersion(r.Version)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", r.Name, err)
		}
		env := cmp.Or(r.Env, r.Name)
		switch {
		case !envRE.MatchString(env):
			return nil, fmt.Errorf("%w: env name for secret %s is not a valid variable name", secrets.ErrInvalidName, r.Name)
		case reservedEnv[env]:
			return nil, fmt.Errorf("%w: env name %s is reserved by Cloud Run", secrets.ErrInvalidName, env)
		case envs[env]:
			return nil, fmt.Errorf("%w: env name %s is used twice", secrets.ErrInvalidName, env)
		}
		envs[env] = true
		entries = append(entries, entry{env: env, name: r.Name, version: v, res: m.Resource(id)})
	}

	var missing []string
	for _, e := range entries {
		err := m.checkVersion(ctx, e.res+"/versions/"+e.version)
		switch {
		case errors.Is(err, secrets.ErrNotFound):
			missing = append(missing, e.name+"@"+e.version)
		case err != nil:
			return nil, err
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("secretmanager: RuntimeEnv: %w: %s", secrets.ErrNotFound, strings.Join(missing, ", "))
	}

	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.name
	}
	if err := m.GrantAccess(ctx, tenant, names, "serviceAccount:"+serviceAccount); err != nil {
		return nil, err
	}

	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.env, b.env) })
	out := make([]*runpb.EnvVar, len(entries))
	for i, e := range entries {
		out[i] = &runpb.EnvVar{Name: e.env, Values: &runpb.EnvVar_ValueSource{ValueSource: &runpb.EnvVarSource{
			SecretKeyRef: &runpb.SecretKeySelector{Secret: e.res, Version: e.version},
		}}}
	}
	return out, nil
}

// checkVersion returns nil if the version (or alias) exists and is enabled, ErrNotFound if it
// does not, is destroyed or is disabled.
func (m *Manager) checkVersion(ctx context.Context, name string) error {
	ctx, cancel := m.call(ctx)
	defer cancel()
	v, err := m.c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: name})
	if status.Code(err) == codes.NotFound {
		return secrets.ErrNotFound
	}
	if err != nil {
		return wrap("GetSecretVersion", name, err)
	}
	if v.GetState() != secretmanagerpb.SecretVersion_ENABLED {
		return secrets.ErrNotFound
	}
	return nil
}
