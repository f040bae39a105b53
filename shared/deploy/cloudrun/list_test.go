package cloudrun_test

import (
	"context"
	"errors"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/deploy/cloudrun"
	"github.com/runyard/runyard/shared/deploy/deploytest"
)

func TestList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fr, _, rc, ic := deploytest.NewFakes(t)
	d := cloudrun.NewFromClients(rc, ic, baseConfig())
	other := deploy.Cell{Name: "c2", Project: project, Region: "europe-west1", Limit: 10}
	deployOne := func(c deploy.Cell, tenant, id string) {
		t.Helper()
		spec := newSpec(deploy.ModeToken)
		spec.Cell, spec.Tenant, spec.RuntimeID, spec.Service, spec.Secrets = c, tenant, id, "rt-"+id, nil
		if _, err := d.Deploy(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	deployOne(cell, "acme", "bbb")
	deployOne(cell, "globex", "aaa")
	deployOne(other, "acme", "ccc")
	// A service in the same region that Runyard did not make (no managed-by label).
	foreign := newSpec(deploy.ModeToken)
	foreign.Secrets = nil
	svc, err := d.BuildService(foreign)
	if err != nil {
		t.Fatal(err)
	}
	delete(svc.Labels, cloudrun.LabelManagedBy)
	svc.Name = ""
	if _, err := rc.CreateService(ctx, &runpb.CreateServiceRequest{Parent: cloudrun.Parent(cell), ServiceId: "someone-elses", Service: svc}); err != nil {
		t.Fatal(err)
	}
	if n := len(fr.ServiceNames()); n != 4 {
		t.Fatalf("%d services in the fake, want 4", n)
	}

	tests := []struct {
		name    string
		cell    deploy.Cell
		want    []deploy.Listed
		wantErr error
	}{
		{name: "ours only, sorted", cell: cell, want: []deploy.Listed{
			{Service: "rt-aaa", Tenant: "globex", RuntimeID: "aaa"},
			{Service: "rt-bbb", Tenant: "acme", RuntimeID: "bbb"},
		}},
		{name: "other region", cell: other, want: []deploy.Listed{{Service: "rt-ccc", Tenant: "acme", RuntimeID: "ccc"}}},
		{name: "empty region", cell: deploy.Cell{Name: "c3", Project: project, Region: "asia-east1", Limit: 1}},
		{name: "bad cell", cell: deploy.Cell{Name: "bad", Project: "X", Region: region}, wantErr: deploy.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := d.List(ctx, tc.cell)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("List: %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListError(t *testing.T) {
	t.Parallel()
	fr, _, rc, ic := deploytest.NewFakes(t)
	d := cloudrun.NewFromClients(rc, ic, baseConfig())
	fr.FailNext("ListServices", codes.PermissionDenied, 1)
	if _, err := d.List(context.Background(), cell); !errors.Is(err, deploy.ErrPermission) {
		t.Errorf("List: %v, want ErrPermission", err)
	}
}
