//go:build tools

// Package deps pins module versions while packages are being written.
package deps

import (
	_ "cloud.google.com/go/firestore"
	_ "cloud.google.com/go/pubsub/v2"
	_ "cloud.google.com/go/pubsub/v2/pstest"
	_ "github.com/BurntSushi/toml"
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"
	_ "github.com/cloudevents/sdk-go/v2"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/sethvargo/go-envconfig"
	_ "golang.org/x/mod/modfile"
	_ "google.golang.org/api/idtoken"
	_ "google.golang.org/api/option"
	_ "google.golang.org/grpc"
	_ "github.com/stripe/stripe-go/v76"
)
