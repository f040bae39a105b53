// Package repostest holds test helpers for repository connections: an Authorizer that works
// before tenancy's permission table has the repos actions, and a tenant fixture.
package repostest

import (
	"context"
	"testing"

	"github.com/runyard/runyard/shared/repos"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

// standIns are tenancy actions whose permission rows equal those the repos actions need
// (members list, admins write, no API keys).
var standIns = map[tenancy.Action]tenancy.Action{
	repos.ActList:  tenancy.ActSecretsList,
	repos.ActWrite: tenancy.ActSecretPut,
}

// Authorizer returns t's Authorize. While tenancy.Permissions lacks a repos action, the
// action is checked as its stand-in with the same row, so tests pass before and after the
// table gains the rows; once it has them, the real rows are used.
func Authorizer(t *tenancy.Service) repos.Authorizer { return authorizer{t} }

type authorizer struct{ t *tenancy.Service }

func (a authorizer) Authorize(ctx context.Context, c tenancy.Caller, tenant string, act tenancy.Action, target string) (tenancy.Role, error) {
	if _, ok := tenancy.Permissions[act]; !ok {
		if s, ok := standIns[act]; ok {
			act = s
		}
	}
	return a.t.Authorize(ctx, c, tenant, act, target)
}

// Callers of the Tenant fixture.
var (
	Owner  = tenancy.Caller{Kind: tenancy.CallerUser, Email: "owner@acme.test", IP: "192.0.2.1", UserAgent: "repostest"}
	Admin  = tenancy.Caller{Kind: tenancy.CallerUser, Email: "admin@acme.test"}
	Member = tenancy.Caller{Kind: tenancy.CallerUser, Email: "member@acme.test"}
)

// Tenant creates tenant with Owner, Admin and Member (if tenant already has them, it fails)
// and returns the tenancy service it used.
func Tenant(tb testing.TB, st store.Store, tenant string) *tenancy.Service {
	tb.Helper()
	ctx := context.Background()
	ten, err := tenancy.NewService(st, func(string) (string, string, string, string, error) {
		return "k1", "plain", "hash", "prefix", nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := ten.CreateTenant(ctx, Owner, tenant, "Test "+tenant); err != nil {
		tb.Fatalf("CreateTenant(%s): %v", tenant, err)
	}
	if _, err := ten.AddMember(ctx, Owner, tenant, Admin.Email, tenancy.RoleAdmin); err != nil {
		tb.Fatalf("AddMember(admin): %v", err)
	}
	if _, err := ten.AddMember(ctx, Owner, tenant, Member.Email, tenancy.RoleMember); err != nil {
		tb.Fatalf("AddMember(member): %v", err)
	}
	return ten
}

// Config is a valid repos.Config for tests.
func Config() repos.Config {
	return repos.Config{AllowedHosts: []string{"github.com"}, HookBaseURL: "https://hooks.runyard.test/githubhook"}
}
