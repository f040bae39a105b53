// Package repostest holds test helpers for repository connections: a tenant fixture with an
// owner, an admin and a member, and a valid repos.Config.
package repostest

import (
	"context"
	"testing"

	"github.com/runyard/runyard/shared/repos"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

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
