package cloudrun

import (
	"context"

	"google.golang.org/api/option"

	"github.com/runyard/runyard/shared/config"
	"github.com/runyard/runyard/shared/deploy"
)

// EnvConfig is what a function that deploys runtimes (api, buildevents) reads from its
// environment (go-envconfig tags).
type EnvConfig struct {
	// Cells are where runtime services go: "name:project:region:limit", comma-separated.
	Cells []string `env:"RUNYARD_CELLS"`
	// ProjectNumbers maps cell projects to their numbers ("project=number"), for IAP.
	ProjectNumbers []string `env:"RUNYARD_PROJECT_NUMBERS"`
	// IngressImage is the runtime ingress sidecar image.
	IngressImage string `env:"RUNTIME_INGRESS_IMAGE"`
	// ServiceAccount is the identity runtimes run as.
	ServiceAccount string `env:"RUNTIME_SERVICE_ACCOUNT"`
	// WorkspaceBucket is mounted into runtimes so their workspace survives pause and archive.
	WorkspaceBucket string `env:"WORKSPACE_BUCKET"`
}

// Validate reports every problem at once.
func (e EnvConfig) Validate() error {
	var p config.Problems
	cells, err := deploy.ParseCells(e.Cells)
	p.Add(err)
	p.Check(err != nil || len(cells) > 0, "RUNYARD_CELLS needs at least one cell (name:project:region:limit)")
	_, err = deploy.ParseProjectNumbers(e.ProjectNumbers)
	p.Add(err)
	p.Check(e.IngressImage != "", "RUNTIME_INGRESS_IMAGE is required (the runtime ingress sidecar image)")
	p.Check(e.ServiceAccount != "", "RUNTIME_SERVICE_ACCOUNT is required (the identity runtimes run as)")
	return p.Err()
}

// CellList returns the configured cells.
func (e EnvConfig) CellList() ([]deploy.Cell, error) { return deploy.ParseCells(e.Cells) }

// Deployer connects the Cloud Run deployer this configuration describes.
func (e EnvConfig) Deployer(ctx context.Context, opts ...option.ClientOption) (*Deployer, error) {
	numbers, err := deploy.ParseProjectNumbers(e.ProjectNumbers)
	if err != nil {
		return nil, err
	}
	return New(ctx, Config{ProjectNumbers: numbers, WorkspaceBucket: e.WorkspaceBucket}, opts...)
}
