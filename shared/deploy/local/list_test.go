package local_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/deploy"
	"github.com/runyard/runyard/shared/deploy/local"
)

func TestList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, local.Config{})
	ctx := context.Background()
	here := deploy.Cell{Name: "local", Project: "p", Region: "local", Limit: 5}
	for _, rt := range []string{"lb", "la", "lgone", "lpaused"} {
		spec := appSpec(t, rt)
		spec.Service, spec.Cell = service(t, rt), here
		e.deploy(t, spec)
	}
	elsewhere := appSpec(t, "lother")
	elsewhere.Service, elsewhere.Cell = service(t, "lother"), deploy.Cell{Name: "other"}
	e.deploy(t, elsewhere)
	if err := e.d.Delete(ctx, here, service(t, "lgone")); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Pause(ctx, here, service(t, "lpaused")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		cell deploy.Cell
		want []deploy.Listed
	}{
		{name: "running and paused, not deleted", cell: here, want: []deploy.Listed{
			{Service: "rt-la", Tenant: "acme", RuntimeID: "la"},
			{Service: "rt-lb", Tenant: "acme", RuntimeID: "lb"},
			{Service: "rt-lpaused", Tenant: "acme", RuntimeID: "lpaused"},
		}},
		{name: "other cell", cell: deploy.Cell{Name: "other"}, want: []deploy.Listed{{Service: "rt-lother", Tenant: "acme", RuntimeID: "lother"}}},
		{name: "unknown cell", cell: deploy.Cell{Name: "nowhere"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := e.d.List(ctx, tc.cell)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		})
	}
}
