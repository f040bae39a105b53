package local_test

import (
	"testing"

	"github.com/runyard/runyard/shared/identity"
	"github.com/runyard/runyard/shared/identity/identitytest"
	"github.com/runyard/runyard/shared/identity/local"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	identitytest.Run(t, func(testing.TB) identity.Manager { return local.New() })
}
