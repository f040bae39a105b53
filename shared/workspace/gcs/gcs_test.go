package gcs_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/grpc/codes"

	"github.com/runyard/runyard/shared/workspace"
	"github.com/runyard/runyard/shared/workspace/gcs"
	"github.com/runyard/runyard/shared/workspace/workspacetest"
)

func newProvisioner(t *testing.T) (*gcs.Provisioner, *fakestorage.Server) {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	p, err := gcs.New(srv.Client(), "test-project", "ryws-", "US")
	if err != nil {
		t.Fatal(err)
	}
	return p, srv
}

func TestEnsure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, srv := newProvisioner(t)
	name, err := p.Ensure(ctx, "acme")
	if err != nil || name != "ryws-acme" {
		t.Fatalf("Ensure = %q, %v", name, err)
	}
	if obj, err := srv.GetObject(name, gcs.MarkerObject); err != nil || string(obj.Content) != "acme" {
		t.Errorf("marker: %q %v", obj.Content, err)
	}
	// Again, and concurrently: the same bucket, no error.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Ensure(ctx, "acme")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("repeated Ensure: %v", err)
		}
	}
	// Another tenant gets its own bucket.
	if other, err := p.Ensure(ctx, "globex"); err != nil || other == name {
		t.Errorf("other tenant: %q %v", other, err)
	}
}

func TestEnsureRefusesForeignBucket(t *testing.T) {
	t.Parallel()
	p, srv := newProvisioner(t)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "ryws-taken"})
	if _, err := p.Ensure(context.Background(), "taken"); !errors.Is(err, workspace.ErrForeign) {
		t.Errorf("Ensure on a bucket that is not the tenant's: %v", err)
	}
	if _, err := p.Ensure(context.Background(), "Bad_Tenant"); err == nil {
		t.Error("bad tenant accepted")
	}
}

// TestGrant: the tenant's identity gets roles/storage.objectUser on its own bucket (not on the
// marker), through the real storage client's gRPC transport; repeating changes nothing, another
// tenant's bucket is refused, and other bindings are kept.
func TestGrant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := workspacetest.New(t)
	p, err := gcs.New(f.GCS.Client(), "test-project", "ryws-", "US")
	if err != nil {
		t.Fatal(err)
	}
	p.WithIAMClient(f.IAMClient(t))
	for _, tenant := range []string{"acme", "globex"} {
		if _, err := p.Ensure(ctx, tenant); err != nil {
			t.Fatal(err)
		}
	}
	acme := "serviceAccount:rt-acme@p.iam.gserviceaccount.com"
	globex := "serviceAccount:rt-globex@p.iam.gserviceaccount.com"
	for range 2 {
		if err := p.Grant(ctx, "acme", "ryws-acme", acme); err != nil {
			t.Fatalf("Grant: %v", err)
		}
	}
	if n := f.IAM.Calls("SetIamPolicy"); n != 1 {
		t.Errorf("SetIamPolicy calls = %d, want 1 (the repeat changes nothing)", n)
	}
	if err := p.Grant(ctx, "acme", "ryws-globex", acme); err == nil {
		t.Fatal("granted on another tenant's bucket")
	}
	if err := p.Grant(ctx, "globex", "ryws-globex", globex); err != nil {
		t.Fatal(err)
	}
	pol := f.Policy("ryws-acme")
	if pol.GetVersion() != 3 || len(pol.GetBindings()) != 1 {
		t.Fatalf("policy = %v", pol)
	}
	b := pol.GetBindings()[0]
	if b.GetRole() != gcs.RoleObjectUser || len(b.GetMembers()) != 1 || b.GetMembers()[0] != acme ||
		b.GetCondition().GetExpression() != `resource.name != "projects/_/buckets/ryws-acme/objects/.runyard-workspace"` {
		t.Fatalf("binding = %v", b)
	}
	if got := f.PoliciesWithMember(gcs.RoleObjectUser, acme); len(got) != 1 || got[0] != "projects/_/buckets/ryws-acme" {
		t.Fatalf("acme's identity is bound on %v", got)
	}
	f.IAM.FailNext("SetIamPolicy", codes.Aborted, 1)
	if err := p.Grant(ctx, "acme", "ryws-acme", "serviceAccount:second@p.iam.gserviceaccount.com"); err != nil {
		t.Fatalf("Grant after a concurrent change: %v", err)
	}
	if err := p.Grant(ctx, "nobody", "ryws-nobody", acme); !errors.Is(err, workspace.ErrUnavailable) {
		t.Fatalf("Grant on a missing bucket: %v, want ErrUnavailable", err)
	}
}
