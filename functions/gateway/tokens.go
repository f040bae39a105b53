package gateway

import (
	"context"
	"fmt"

	"golang.org/x/oauth2"
	"google.golang.org/api/idtoken"
)

// googleIDTokens is the default TokenSourceFunc: Google-signed ID tokens for audience from the
// gateway's own identity (the metadata server on Cloud Run; a service account key elsewhere).
func googleIDTokens(ctx context.Context, audience string) (oauth2.TokenSource, error) {
	ts, err := idtoken.NewTokenSource(context.WithoutCancel(ctx), audience) // the source outlives the request
	if err != nil {
		return nil, fmt.Errorf("idtoken.NewTokenSource: %w", err)
	}
	return ts, nil
}
