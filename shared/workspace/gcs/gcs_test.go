package gcs_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/runyard/runyard/shared/workspace"
	"github.com/runyard/runyard/shared/workspace/gcs"
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
