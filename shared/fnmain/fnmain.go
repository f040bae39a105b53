// Package fnmain is the body of every function image's main (functions/<name>/cmd): the main
// imports its function package, whose init registers the function, and calls Run, which serves
// it with the functions framework on $PORT (8080 when unset). The Go functions buildpack
// cannot build a function below the module root, hence one small main per function.
package fnmain

import (
	"log"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

// Run serves the registered functions until the process ends.
func Run() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("funcframework.Start: %v", err)
	}
}
