package runtime_test

import (
	"context"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"strings"
	"testing"

	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/build/buildtest"
	"github.com/runyard/runyard/shared/build/cloudbuild"
	"github.com/runyard/runyard/shared/deploy"
	deployrun "github.com/runyard/runyard/shared/deploy/cloudrun"
	"github.com/runyard/runyard/shared/deploy/deploytest"
	"github.com/runyard/runyard/shared/identity"
	identityiam "github.com/runyard/runyard/shared/identity/iam"
	"github.com/runyard/runyard/shared/identity/identitytest"
	"github.com/runyard/runyard/shared/runtime"
	"github.com/runyard/runyard/shared/store/storetest"
	wsgcs "github.com/runyard/runyard/shared/workspace/gcs"
)

// TestBuildEndingBeforeAnyoneWaits: a build that ends after the runtime read it but before
// the runtime was recorded sends its event to no one; the next read of the runtime (or the
// create itself) must still move it on, so it never waits forever.
func TestBuildEndingBeforeAnyoneWaits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.NewEmulatorStore(t)
	_, cbClient := buildtest.NewFake(t)
	builds, err := build.NewService(st, cloudbuild.NewFromClient(cbClient, cloudbuild.Config{ProjectID: "test-project", ArtifactRepo: "us-docker.pkg.dev/test-project/r"}))
	if err != nil {
		t.Fatal(err)
	}
	runFake, _, runClient, iapClient := deploytest.NewFakes(t)
	rts, err := runtime.NewService(st, []deploy.Cell{{Name: "c1", Project: "test-project", Region: "us-central1", Limit: 5}})
	if err != nil {
		t.Fatal(err)
	}
	o, err := runtime.NewOrchestrator(rts, deployrun.NewFromClients(runClient, iapClient, deployrun.Config{ProjectNumbers: map[string]string{"test-project": "1234"}}),
		builds, runtime.OrchestratorConfig{IngressImage: "us-docker.pkg.dev/x/ingress:1", ServiceAccount: func(string) string { return "rt@test-project.iam.gserviceaccount.com" }})
	if err != nil {
		t.Fatal(err)
	}
	b, err := builds.Create(ctx, "acme", build.Spec{Source: build.Source{RepoURL: "https://github.com/a/b", Ref: "main"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := o.Create(ctx, "acme", runtime.Request{BuildID: b.ID, Mode: deploy.ModeToken})
	if err != nil || r.State != runtime.StateBuilding {
		t.Fatalf("create: %+v %v", r, err)
	}
	// The build ends and its event is handled before this runtime is found waiting (or is
	// lost): only the record changes.
	if _, _, err := builds.Apply(ctx, build.Event{Tenant: "acme", BuildID: b.ID, ExternalID: b.ExternalID, Status: build.StatusSuccess,
		Image: "us-docker.pkg.dev/test-project/r/acme:" + b.ID, Digest: "sha256:" + strings.Repeat("e", 64)}); err != nil {
		t.Fatal(err)
	}
	got, err := o.Refresh(ctx, "acme", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != runtime.StateDeploying || got.Image == "" || runFake.Service("projects/test-project/locations/us-central1/services/"+got.Service) == nil {
		t.Fatalf("after the missed event: %+v", got)
	}
	// The event arriving late changes nothing.
	rec, _ := builds.Get(ctx, "acme", b.ID)
	if err := o.OnBuildFinished(ctx, rec); err != nil {
		t.Fatal(err)
	}
	again, _ := rts.Get(ctx, "acme", r.ID)
	if again.Generation != got.Generation {
		t.Errorf("a late event moved the runtime again: generation %d → %d", got.Generation, again.Generation)
	}
}

// TestWorkspacePerTenant: each tenant's runtimes mount their own prefix of their tenant's own
// bucket, created on the tenant's first runtime.
func TestWorkspacePerTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.NewEmulatorStore(t)
	_, cbClient := buildtest.NewFake(t)
	builds, err := build.NewService(st, cloudbuild.NewFromClient(cbClient, cloudbuild.Config{ProjectID: "test-project", ArtifactRepo: "us-docker.pkg.dev/test-project/r"}))
	if err != nil {
		t.Fatal(err)
	}
	runFake, _, runClient, iapClient := deploytest.NewFakes(t)
	gcsFake, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gcsFake.Stop)
	prov, err := wsgcs.New(gcsFake.Client(), "test-project", "ryws-", "US")
	if err != nil {
		t.Fatal(err)
	}
	rts, err := runtime.NewService(st, []deploy.Cell{{Name: "c1", Project: "test-project", Region: "us-central1", Limit: 5}})
	if err != nil {
		t.Fatal(err)
	}
	o, err := runtime.NewOrchestrator(rts, deployrun.NewFromClients(runClient, iapClient, deployrun.Config{ProjectNumbers: map[string]string{"test-project": "1234"}}),
		builds, runtime.OrchestratorConfig{IngressImage: "us-docker.pkg.dev/x/ingress:1", Workspace: prov.Ensure,
			ServiceAccount: func(string) string { return "rt@test-project.iam.gserviceaccount.com" }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"acme", "globex"} {
		r, err := o.Create(ctx, tenant, runtime.Request{Image: "us-docker.pkg.dev/x/app@sha256:" + strings.Repeat("a", 64), Mode: deploy.ModeToken})
		if err != nil {
			t.Fatalf("%s: %v", tenant, err)
		}
		svc := runFake.Service("projects/test-project/locations/us-central1/services/" + r.Service)
		vols := svc.GetTemplate().GetVolumes()
		if len(vols) != 1 || vols[0].GetGcs().GetBucket() != "ryws-"+tenant || vols[0].GetGcs().GetMountOptions()[0] != "only-dir="+r.ID {
			t.Errorf("%s: workspace volume %v", tenant, vols)
		}
	}
}

// TestTenantIdentity: a runtime runs as its tenant's own service account, made in the cell's
// project through the real IAM client on the tenant's first runtime; the runtime's own env wins
// over the identity's; a project out of service accounts fails the runtime with the quota
// reason and leaves no service.
func TestTenantIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.NewEmulatorStore(t)
	_, cbClient := buildtest.NewFake(t)
	builds, err := build.NewService(st, cloudbuild.NewFromClient(cbClient, cloudbuild.Config{ProjectID: "test-project", ArtifactRepo: "us-docker.pkg.dev/test-project/r"}))
	if err != nil {
		t.Fatal(err)
	}
	runFake, _, runClient, iapClient := deploytest.NewFakes(t)
	iamFake, adminClient, projectsClient := identitytest.NewFake(t)
	ids, err := identity.NewService(st, identityiam.NewFromClients(adminClient, projectsClient), nil, identity.Config{Projects: []string{"test-project"}})
	if err != nil {
		t.Fatal(err)
	}
	rts, err := runtime.NewService(st, []deploy.Cell{{Name: "c1", Project: "test-project", Region: "us-central1", Limit: 5}})
	if err != nil {
		t.Fatal(err)
	}
	o, err := runtime.NewOrchestrator(rts, deployrun.NewFromClients(runClient, iapClient, deployrun.Config{ProjectNumbers: map[string]string{"test-project": "1234"}}),
		builds, runtime.OrchestratorConfig{IngressImage: "us-docker.pkg.dev/x/ingress:1", Identity: ids.ForRuntime,
			ServiceAccount: func(string) string { return "shared@test-project.iam.gserviceaccount.com" }})
	if err != nil {
		t.Fatal(err)
	}
	img := "us-docker.pkg.dev/x/app@sha256:" + strings.Repeat("a", 64)
	r, err := o.Create(ctx, "acme", runtime.Request{Image: img, Mode: deploy.ModeToken})
	if err != nil {
		t.Fatal(err)
	}
	svc := runFake.Service("projects/test-project/locations/us-central1/services/" + r.Service)
	if got := svc.GetTemplate().GetServiceAccount(); got != "rt-acme@test-project.iam.gserviceaccount.com" {
		t.Fatalf("service account %q", got)
	}
	if got := iamFake.Accounts(); len(got) != 1 {
		t.Fatalf("accounts %v", got)
	}
	iamFake.Quota = 1
	failed, err := o.Create(ctx, "globex", runtime.Request{Image: img, Mode: deploy.ModeToken})
	if err == nil || failed.State != runtime.StateFailed || !strings.Contains(failed.Reason, "quota") {
		t.Fatalf("over the account quota: %+v, %v", failed, err)
	}
	if runFake.Service("projects/test-project/locations/us-central1/services/"+failed.Service) != nil {
		t.Fatal("a service was left for the failed runtime")
	}
}
