package cloudrun

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"time"

	"github.com/runyard/runyard/shared/deploy"
)

// Defaults.
const (
	DefaultCallTimeout   = 30 * time.Second
	DefaultIngressCPU    = "1"
	DefaultIngressMemory = "512Mi"
	DefaultWorkspacePath = "/workspace"
)

// Config is how the adapter reaches and shapes runtime services. A cell (deploy.Cell) says the
// project and region of each service; Config holds what is the same for every cell.
type Config struct {
	// ProjectNumbers maps a cell's project id to its project number. ModeIAP needs the number
	// of the cell's project (the IAP resource, the IAP service agent and the IAP JWT audience
	// are named by number); a cell whose Project is already a number needs no entry.
	ProjectNumbers map[string]string
	// IngressCPU and IngressMemory are the ingress sidecar's limits (defaults "1" and "512Mi";
	// Cloud Run allows less than one CPU only in the first generation environment).
	IngressCPU    string
	IngressMemory string
	// WorkspaceBucket, if set, is the Cloud Storage bucket mounted (gcsfuse) into the runtime
	// container at WorkspacePath, restricted to the runtime's own prefix <tenant>/<runtime id>
	// (only-dir), so the workspace survives pause and archive.
	WorkspaceBucket string
	// WorkspacePath is where the workspace is mounted (default "/workspace").
	WorkspacePath string
	// CallTimeout bounds each admin API call (default 30s).
	CallTimeout time.Duration
	// GatewayInvoker, when set, is domain mode: the gateway function's service account email.
	// Every runtime service then has neither IAP nor public access: its only invoker
	// (roles/run.invoker) is this account, and the ingress sidecar runs in gateway mode (the
	// gateway has authorized each request by the runtime's own mode).
	GatewayInvoker string
}

var (
	projectNumberRE = regexp.MustCompile(`^[1-9][0-9]{0,19}$`)
	bucketRE        = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$`)
	cpuRE           = regexp.MustCompile(`^[1-8]$`)
	memoryRE        = regexp.MustCompile(`^[1-9][0-9]*(Mi|Gi)$`)
)

// withDefaults returns c with the defaults filled in.
func (c Config) withDefaults() Config {
	if c.IngressCPU == "" {
		c.IngressCPU = DefaultIngressCPU
	}
	if c.IngressMemory == "" {
		c.IngressMemory = DefaultIngressMemory
	}
	if c.WorkspacePath == "" {
		c.WorkspacePath = DefaultWorkspacePath
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	return c
}

// Validate reports every problem with c (after defaults) at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	for id, n := range c.ProjectNumbers {
		if !projectNumberRE.MatchString(n) {
			errs = append(errs, fmt.Errorf("cloudrun: project number %q of %q is not a number", n, id))
		}
	}
	if !cpuRE.MatchString(c.IngressCPU) {
		errs = append(errs, fmt.Errorf("cloudrun: ingress cpu %q is not a whole number of CPUs from 1 to 8 (gen2)", c.IngressCPU))
	}
	if !memoryRE.MatchString(c.IngressMemory) {
		errs = append(errs, fmt.Errorf("cloudrun: ingress memory %q is not like 512Mi or 1Gi", c.IngressMemory))
	}
	if c.WorkspaceBucket != "" && !bucketRE.MatchString(c.WorkspaceBucket) {
		errs = append(errs, fmt.Errorf("cloudrun: workspace bucket %q is not a bucket name", c.WorkspaceBucket))
	}
	if !path.IsAbs(c.WorkspacePath) || path.Clean(c.WorkspacePath) != c.WorkspacePath || c.WorkspacePath == "/" {
		errs = append(errs, fmt.Errorf("cloudrun: workspace path %q is not a clean absolute directory", c.WorkspacePath))
	}
	if c.GatewayInvoker != "" && !saRE.MatchString(c.GatewayInvoker) {
		errs = append(errs, fmt.Errorf("cloudrun: gateway invoker %q is not a service account email", c.GatewayInvoker))
	}
	if c.CallTimeout <= 0 {
		errs = append(errs, fmt.Errorf("cloudrun: call timeout %s is not positive", c.CallTimeout))
	}
	return errors.Join(errs...)
}

// projectNumber is the number of project: itself if it is one, else from ProjectNumbers.
func (c Config) projectNumber(project string) (string, error) {
	if projectNumberRE.MatchString(project) {
		return project, nil
	}
	if n, ok := c.ProjectNumbers[project]; ok {
		return n, nil
	}
	return "", fmt.Errorf("%w: no project number configured for project %q (IAP needs it)", deploy.ErrInvalid, project)
}
