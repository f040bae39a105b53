package cloudrun

import (
	"context"
	"errors"
	"path"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/iterator"

	"github.com/runyard/runyard/shared/deploy"
)

var _ deploy.Lister = (*Deployer)(nil)

// List returns the services of the cell that carry the label managed-by=runyard, with their
// tenant and runtime labels, sorted by service id. Services without the label (not made by
// this package) are never listed, so the sweeper never touches them. The Cloud Run Admin API v2
// has no label filter, so the whole region is paged through and filtered here.
func (d *Deployer) List(ctx context.Context, cell deploy.Cell) ([]deploy.Listed, error) {
	if !projectRE.MatchString(cell.Project) || !regionRE.MatchString(cell.Region) {
		return nil, invalid("cell %q is not a project and a region", cell.Name)
	}
	parent := Parent(cell)
	cctx, cancel := d.call(ctx)
	defer cancel()
	var out []deploy.Listed
	it := d.run.ListServices(cctx, &runpb.ListServicesRequest{Parent: parent})
	for {
		s, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, wrap("ListServices", parent, err)
		}
		l := s.GetLabels()
		if l[LabelManagedBy] != ManagedBy {
			continue
		}
		out = append(out, deploy.Listed{Service: path.Base(s.GetName()), Tenant: l[LabelTenant], RuntimeID: l[LabelRuntime]})
	}
	return out, nil
}
