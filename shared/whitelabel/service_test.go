package whitelabel_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/store/storetest"
	"github.com/runyard/runyard/shared/tenancy"
	"github.com/runyard/runyard/shared/whitelabel"
	"github.com/runyard/runyard/shared/whitelabel/whitelabeltest"
)

var (
	ownerA  = tenancy.Caller{Kind: tenancy.CallerUser, Email: "owner@acme.test"}
	adminA  = tenancy.Caller{Kind: tenancy.CallerUser, Email: "admin@acme.test"}
	memberA = tenancy.Caller{Kind: tenancy.CallerUser, Email: "member@acme.test"}
	ownerB  = tenancy.Caller{Kind: tenancy.CallerUser, Email: "owner@other.test"}
)

type fixture struct {
	st     store.Store
	ten    *tenancy.Service
	svc    *whitelabel.Service
	lookup *whitelabel.Lookup
	dns    *whitelabeltest.DNS
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	ctx := context.Background()
	st := storetest.NewEmulatorStore(tb)
	ten, err := tenancy.NewService(st, func(string) (string, string, string, string, error) { return "k", "p", "h", "x", nil })
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range []struct {
		owner tenancy.Caller
		id    string
	}{{ownerA, "acme"}, {ownerB, "other"}} {
		if _, err := ten.CreateTenant(ctx, c.owner, c.id, c.id); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := ten.AddMember(ctx, ownerA, "acme", adminA.Email, tenancy.RoleAdmin); err != nil {
		tb.Fatal(err)
	}
	if _, err := ten.AddMember(ctx, ownerA, "acme", memberA.Email, tenancy.RoleMember); err != nil {
		tb.Fatal(err)
	}
	dns := whitelabeltest.NewDNS(tb)
	svc, err := whitelabel.NewService(st, ten, whitelabel.NewResolver(dns.Addr), whitelabel.Config{Platform: platform, DNSTimeout: 2 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	lk, err := whitelabel.NewLookup(st, whitelabel.LookupConfig{Platform: platform})
	if err != nil {
		tb.Fatal(err)
	}
	return &fixture{st: st, ten: ten, svc: svc, lookup: lk, dns: dns}
}

// addVerified adds domain to tenant, publishes its TXT record and verifies it.
func (f *fixture) addVerified(tb testing.TB, c tenancy.Caller, tenant, domain string) whitelabel.Domain {
	tb.Helper()
	ctx := context.Background()
	d, err := f.svc.AddDomain(ctx, c, tenant, domain)
	if err != nil {
		tb.Fatalf("AddDomain(%s, %s): %v", tenant, domain, err)
	}
	f.dns.SetTXT(d.ChallengeName, "unrelated", d.ChallengeValue)
	v, err := f.svc.VerifyDomain(ctx, c, tenant, domain)
	if err != nil {
		tb.Fatalf("VerifyDomain(%s, %s): %v", tenant, domain, err)
	}
	return v
}

func TestDomainLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	d, err := f.svc.AddDomain(ctx, adminA, "acme", "Dev.Acme.COM.")
	if err != nil {
		t.Fatal(err)
	}
	if d.Domain != "dev.acme.com" || d.Status != whitelabel.StatusPending || d.ChallengeName != "_runyard-challenge.dev.acme.com" ||
		!strings.HasPrefix(d.ChallengeValue, "runyard-verify=") || len(d.ChallengeValue) != len("runyard-verify=")+40 {
		t.Fatalf("AddDomain = %+v", d)
	}
	if _, err := f.svc.AddDomain(ctx, adminA, "acme", "dev.acme.com"); !errors.Is(err, whitelabel.ErrExists) || !errors.Is(err, tenancy.ErrExists) {
		t.Errorf("second AddDomain = %v, want ErrExists", err)
	}
	// Not verified yet: no record, then a record with another value.
	if _, err := f.svc.VerifyDomain(ctx, adminA, "acme", "dev.acme.com"); !errors.Is(err, whitelabel.ErrNotVerified) {
		t.Errorf("VerifyDomain without a record = %v, want ErrNotVerified", err)
	}
	f.dns.SetTXT(d.ChallengeName, "runyard-verify=somebody-else")
	if _, err := f.svc.VerifyDomain(ctx, adminA, "acme", "dev.acme.com"); !errors.Is(err, whitelabel.ErrNotVerified) {
		t.Errorf("VerifyDomain with a wrong value = %v, want ErrNotVerified", err)
	}
	if _, ok, _ := f.lookup.TenantForDomain(ctx, "dev.acme.com"); ok {
		t.Fatal("a pending domain resolves to a tenant")
	}
	// A DNS failure is not "not verified".
	f.dns.Fail(d.ChallengeName, true)
	if _, err := f.svc.VerifyDomain(ctx, adminA, "acme", "dev.acme.com"); !errors.Is(err, whitelabel.ErrUnavailable) {
		t.Errorf("VerifyDomain on SERVFAIL = %v, want ErrUnavailable", err)
	}
	f.dns.Fail(d.ChallengeName, false)
	f.dns.SetTXT(d.ChallengeName, d.ChallengeValue)
	v, err := f.svc.VerifyDomain(ctx, adminA, "acme", "dev.acme.com")
	if err != nil || v.Status != whitelabel.StatusVerified || v.VerifiedAt == nil {
		t.Fatalf("VerifyDomain = %+v, %v", v, err)
	}
	// Verifying again answers the verified domain without asking DNS.
	q := f.dns.Queries()
	if v2, err := f.svc.VerifyDomain(ctx, adminA, "acme", "dev.acme.com"); err != nil || v2.Status != whitelabel.StatusVerified || f.dns.Queries() != q {
		t.Errorf("second VerifyDomain = %+v, %v (queries %d → %d)", v2, err, q, f.dns.Queries())
	}
	if tn, ok, err := f.lookup.TenantForDomain(ctx, "dev.acme.com"); err != nil || !ok || tn != "acme" {
		t.Errorf("TenantForDomain = %q, %v, %v; want acme", tn, ok, err)
	}
	page, err := f.svc.ListDomains(ctx, memberA, "acme", store.Query{})
	if err != nil || len(page.Items) != 1 || page.Items[0].Domain != "dev.acme.com" {
		t.Errorf("ListDomains = %+v, %v", page, err)
	}
	if err := f.svc.DeleteDomain(ctx, adminA, "acme", "dev.acme.com"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.lookup.TenantForDomain(ctx, "dev.acme.com"); ok {
		t.Error("a deleted domain still resolves")
	}
	if err := f.svc.DeleteDomain(ctx, adminA, "acme", "dev.acme.com"); !errors.Is(err, whitelabel.ErrNotFound) {
		t.Errorf("second DeleteDomain = %v, want ErrNotFound", err)
	}
	// The audit log has every change, and the failed verifications.
	evs, _, err := store.ListOf[tenancy.AuditEvent](ctx, f.st, "acme", tenancy.KindAudit, store.Query{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Action == string(tenancy.ActDomainsWrite) {
			got = append(got, evs[i].Outcome+":"+evs[i].Reason)
		}
	}
	want := "success:add dev.acme.com,failure:add: already added,failure:verify: record not found,failure:verify: record not found," +
		"failure:verify: DNS unavailable,success:verify dev.acme.com,success:delete dev.acme.com"
	if strings.Join(got, ",") != want {
		t.Errorf("audit:\n got %s\nwant %s", strings.Join(got, ","), want)
	}
}

// TestDomainClaimedOnce: two tenants add the same domain; only the first to verify gets it,
// the other's verification fails with ErrTaken whatever its TXT record says, and adding it
// afterwards is refused. Deleting releases the claim.
func TestDomainClaimedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	da, err := f.svc.AddDomain(ctx, ownerA, "acme", "shared.dev")
	if err != nil {
		t.Fatal(err)
	}
	db, err := f.svc.AddDomain(ctx, ownerB, "other", "shared.dev")
	if err != nil {
		t.Fatal(err)
	}
	if da.ChallengeValue == db.ChallengeValue {
		t.Fatal("two tenants got the same challenge value")
	}
	f.dns.SetTXT(da.ChallengeName, da.ChallengeValue, db.ChallengeValue)
	// Both verify at once: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range []struct {
		caller tenancy.Caller
		tenant string
	}{{ownerA, "acme"}, {ownerB, "other"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.VerifyDomain(ctx, c.caller, c.tenant, "shared.dev")
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, whitelabel.ErrTaken):
			t.Errorf("loser's error = %v, want ErrTaken", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d tenants verified shared.dev: %v", won, errs)
	}
	winner, _, err := f.lookup.TenantForDomain(ctx, "shared.dev")
	if err != nil || winner == "" {
		t.Fatal(winner, err)
	}
	loser, loserOwner := "other", ownerB
	winnerOwner := ownerA
	if winner == "other" {
		loser, loserOwner, winnerOwner = "acme", ownerA, ownerB
	}
	// The loser's record stays pending; adding it anew is refused while the claim stands.
	if err := f.svc.DeleteDomain(ctx, loserOwner, loser, "shared.dev"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddDomain(ctx, loserOwner, loser, "shared.dev"); !errors.Is(err, whitelabel.ErrTaken) {
		t.Errorf("AddDomain of a claimed domain = %v, want ErrTaken", err)
	}
	// The loser deleting its record did not release the winner's claim.
	if tn, ok, _ := f.lookup.TenantForDomain(ctx, "shared.dev"); !ok || tn != winner {
		t.Fatalf("claim after the loser's delete: %q %v", tn, ok)
	}
	if err := f.svc.DeleteDomain(ctx, winnerOwner, winner, "shared.dev"); err != nil {
		t.Fatal(err)
	}
	f.addVerified(t, loserOwner, loser, "shared.dev")
	if tn, _, _ := f.lookup.TenantForDomain(ctx, "shared.dev"); tn != loser {
		t.Errorf("after release, shared.dev belongs to %q, want %q", tn, loser)
	}
}

// TestCrossTenantHosts: a host under tenant A's domain resolves to A only, so a gateway
// checking HostMatch.Serves refuses B's runtimes there; the platform's domain serves both.
func TestCrossTenantHosts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.addVerified(t, ownerA, "acme", "dev.acme.com")
	f.addVerified(t, ownerB, "other", "other.io")
	tests := []struct {
		host             string
		ok               bool
		want             whitelabel.HostMatch
		servesA, servesB bool
	}{
		{"vscode-rtb123.dev.acme.com", true, whitelabel.HostMatch{Domain: "dev.acme.com", Label: "vscode-rtb123", Tenant: "acme"}, true, false},
		{"8000-rtb123.DEV.acme.com:443", true, whitelabel.HostMatch{Domain: "dev.acme.com", Label: "8000-rtb123", Tenant: "acme"}, true, false},
		{"rta.other.io", true, whitelabel.HostMatch{Domain: "other.io", Label: "rta", Tenant: "other"}, false, true},
		{"dev.acme.com", true, whitelabel.HostMatch{Domain: "dev.acme.com", Tenant: "acme"}, true, false},
		{"work-1-rta.rt.runyard.dev", true, whitelabel.HostMatch{Domain: platform, Label: "work-1-rta", Platform: true}, true, true},
		// Not verified, not a parent: nothing.
		{"x.acme.com", false, whitelabel.HostMatch{}, false, false},
		{"rta.evil-dev.acme.com", false, whitelabel.HostMatch{}, false, false},
		{"rta.dev.acme.com.evil.io", false, whitelabel.HostMatch{}, false, false},
		{"127.0.0.1", false, whitelabel.HostMatch{}, false, false},
	}
	for _, tc := range tests {
		m, ok, err := f.lookup.ResolveHost(ctx, tc.host)
		if err != nil || ok != tc.ok || m != tc.want {
			t.Errorf("ResolveHost(%q) = %+v, %v, %v; want %+v, %v", tc.host, m, ok, err, tc.want, tc.ok)
		}
		if m.Serves("acme") != tc.servesA || m.Serves("other") != tc.servesB || m.Serves("") {
			t.Errorf("ResolveHost(%q).Serves: acme %v other %v; want %v %v", tc.host, m.Serves("acme"), m.Serves("other"), tc.servesA, tc.servesB)
		}
	}
}

func TestBrandingAndRuntimeDomain(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if b, err := f.svc.GetBranding(ctx, memberA, "acme"); err != nil || b.ProductName != "" {
		t.Fatalf("GetBranding before any = %+v, %v", b, err)
	}
	in := whitelabel.Branding{ProductName: "Acme Cloud", LogoURL: "https://acme.com/l.svg", Colors: whitelabel.Colors{Primary: "#112233"}}
	if _, err := f.svc.PutBranding(ctx, memberA, "acme", in); !errors.Is(err, tenancy.ErrForbidden) {
		t.Errorf("member PutBranding = %v, want ErrForbidden", err)
	}
	if _, err := f.svc.PutBranding(ctx, ownerB, "acme", in); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Errorf("other tenant's owner PutBranding = %v, want ErrTenantNotFound", err)
	}
	if _, err := f.svc.PutBranding(ctx, adminA, "acme", whitelabel.Branding{LogoURL: "http://x.com"}); !errors.Is(err, tenancy.ErrInvalid) {
		t.Errorf("bad PutBranding = %v, want ErrInvalid", err)
	}
	if _, err := f.svc.PutBranding(ctx, adminA, "acme", in); err != nil {
		t.Fatal(err)
	}
	if b, err := f.svc.GetBranding(ctx, memberA, "acme"); err != nil || b.Branding != in || b.UpdatedBy != adminA.Email {
		t.Errorf("GetBranding = %+v, %v", b, err)
	}
	// Public: only under a verified domain of acme's.
	if b, _ := f.lookup.BrandingForHost(ctx, "app.acme.com"); b != whitelabel.DefaultBranding {
		t.Errorf("branding before verification = %+v, want the platform's", b)
	}
	if rd, err := f.lookup.RuntimeDomain(ctx, "acme"); err != nil || rd != platform {
		t.Errorf("RuntimeDomain before verification = %q, %v", rd, err)
	}
	f.addVerified(t, ownerA, "acme", "acme.com")
	f.addVerified(t, ownerA, "acme", "acme.dev")
	for _, h := range []string{"app.acme.com", "acme.com", "vscode-x.acme.dev:443"} {
		if b, err := f.lookup.BrandingForHost(ctx, h); err != nil || b != in {
			t.Errorf("BrandingForHost(%q) = %+v, %v; want acme's", h, b, err)
		}
	}
	for _, h := range []string{"other.io", "x.rt.runyard.dev", "not a host"} {
		if b, err := f.lookup.BrandingForHost(ctx, h); err != nil || b != whitelabel.DefaultBranding {
			t.Errorf("BrandingForHost(%q) = %+v, %v; want the platform's", h, b, err)
		}
	}
	// The domain verified first is the runtime domain; other tenants keep the platform's.
	if rd, err := f.lookup.RuntimeDomain(ctx, "acme"); err != nil || rd != "acme.com" {
		t.Errorf("RuntimeDomain = %q, %v; want acme.com", rd, err)
	}
	if rd, err := f.lookup.RuntimeDomain(ctx, "other"); err != nil || rd != platform {
		t.Errorf("RuntimeDomain(other) = %q, %v", rd, err)
	}
	// Not in domain mode: no runtime domain at all.
	direct, _ := whitelabel.NewLookup(f.st, whitelabel.LookupConfig{})
	if rd, err := direct.RuntimeDomain(ctx, "acme"); err != nil || rd != "" {
		t.Errorf("direct-mode RuntimeDomain = %q, %v", rd, err)
	}
}

func TestPermissions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.AddDomain(ctx, memberA, "acme", "acme.com"); !errors.Is(err, tenancy.ErrForbidden) {
		t.Errorf("member AddDomain = %v", err)
	}
	if _, err := f.svc.AddDomain(ctx, ownerB, "acme", "acme.com"); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Errorf("other owner AddDomain = %v", err)
	}
	f.addVerified(t, ownerA, "acme", "acme.com")
	for name, err := range map[string]error{
		"other lists":   func() error { _, err := f.svc.ListDomains(ctx, ownerB, "acme", store.Query{}); return err }(),
		"other verify":  func() error { _, err := f.svc.VerifyDomain(ctx, ownerB, "acme", "acme.com"); return err }(),
		"other deletes": f.svc.DeleteDomain(ctx, ownerB, "acme", "acme.com"),
		"other reads":   func() error { _, err := f.svc.GetBranding(ctx, ownerB, "acme"); return err }(),
	} {
		if !errors.Is(err, tenancy.ErrTenantNotFound) {
			t.Errorf("%s: %v, want ErrTenantNotFound", name, err)
		}
	}
	if err := f.svc.DeleteDomain(ctx, memberA, "acme", "acme.com"); !errors.Is(err, tenancy.ErrForbidden) {
		t.Errorf("member DeleteDomain = %v", err)
	}
	// Another tenant deleting "its" copy of acme's domain (it has none) cannot release acme's claim.
	if err := f.svc.DeleteDomain(ctx, ownerB, "other", "acme.com"); !errors.Is(err, whitelabel.ErrNotFound) {
		t.Errorf("other DeleteDomain of its own missing record = %v", err)
	}
	if tn, ok, _ := f.lookup.TenantForDomain(ctx, "acme.com"); !ok || tn != "acme" {
		t.Errorf("claim after other's delete = %q %v", tn, ok)
	}
}

func TestTooManyDomains(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for i := range whitelabel.MaxDomains {
		if _, err := f.svc.AddDomain(ctx, ownerA, "acme", "d"+string(rune('a'+i))+".acme.com"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.AddDomain(ctx, ownerA, "acme", "one-more.acme.com"); !errors.Is(err, whitelabel.ErrTooMany) || !errors.Is(err, tenancy.ErrQuota) {
		t.Errorf("AddDomain over the cap = %v", err)
	}
}

// TestTenantDeletion: deleting a tenant removes its branding and domains and releases its
// claims, so another tenant can verify the domain; the other tenant's claim stays.
func TestTenantDeletion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.PutBranding(ctx, ownerA, "acme", whitelabel.Branding{ProductName: "Acme"}); err != nil {
		t.Fatal(err)
	}
	f.addVerified(t, ownerA, "acme", "acme.com")
	if _, err := f.svc.AddDomain(ctx, ownerA, "acme", "pending.acme.com"); err != nil {
		t.Fatal(err)
	}
	f.addVerified(t, ownerB, "other", "other.io")
	if err := f.ten.DeleteTenant(ctx, ownerA, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.lookup.TenantForDomain(ctx, "acme.com"); ok {
		t.Error("a deleted tenant's domain still resolves")
	}
	for _, kind := range whitelabel.Kinds {
		if docs, _, err := f.st.List(ctx, "acme", kind, store.Query{}); err != nil || len(docs) != 0 {
			t.Errorf("%d %s documents survived their tenant (%v)", len(docs), kind, err)
		}
	}
	if tn, ok, _ := f.lookup.TenantForDomain(ctx, "other.io"); !ok || tn != "other" {
		t.Errorf("other's claim after acme's deletion: %q %v", tn, ok)
	}
	f.addVerified(t, ownerB, "other", "acme.com")
}
