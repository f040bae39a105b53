package local

import (
	"context"
	"slices"
	"strings"

	"github.com/runyard/runyard/shared/deploy"
)

var _ deploy.Lister = (*Driver)(nil)

// List returns the services the driver runs (paused ones included) whose spec names cell, or
// names no cell, sorted by service name. Every service of the driver is Runyard's.
func (d *Driver) List(_ context.Context, cell deploy.Cell) ([]deploy.Listed, error) {
	d.mu.Lock()
	svcs := make([]*service, 0, len(d.services))
	for _, s := range d.services {
		svcs = append(svcs, s)
	}
	d.mu.Unlock()
	var out []deploy.Listed
	for _, s := range svcs {
		snap := s.snapshot()
		if snap.deleted || snap.spec.Service == "" || snap.spec.Cell.Name != "" && snap.spec.Cell.Name != cell.Name {
			continue
		}
		out = append(out, deploy.Listed{Service: snap.spec.Service, Tenant: snap.spec.Tenant, RuntimeID: snap.spec.RuntimeID})
	}
	slices.SortFunc(out, func(a, b deploy.Listed) int { return strings.Compare(a.Service, b.Service) })
	return out, nil
}
