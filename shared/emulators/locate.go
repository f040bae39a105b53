package emulators

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
)

// packages names the apt package (google-cloud-cli) that ships each emulator.
var packages = map[Kind]string{
	Firestore: "google-cloud-cli-firestore-emulator",
	PubSub:    "google-cloud-cli-pubsub-emulator",
}

// jarGlobs are the jar locations inside a Cloud SDK root.
var jarGlobs = map[Kind]string{
	Firestore: "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
	PubSub:    "platform/pubsub-emulator/lib/cloud-pubsub-emulator-*.jar",
}

// locate finds java and the emulator jar, or explains what to install.
func locate(kind Kind, opts Options) (java, jar string, err error) {
	java = opts.Java
	if java == "" {
		java = "java"
	}
	if java, err = exec.LookPath(java); err != nil {
		return "", "", fmt.Errorf("emulators: java not found (the %s emulator needs Java 17 or later, e.g. apt package openjdk-17-jre-headless): %w: %w", kind, ErrNotInstalled, err)
	}
	if opts.Jar != "" {
		if _, err := os.Stat(opts.Jar); err != nil {
			return "", "", fmt.Errorf("emulators: %s emulator jar %s (apt package %s): %w: %w", kind, opts.Jar, packages[kind], ErrNotInstalled, err)
		}
		return java, opts.Jar, nil
	}
	roots := sdkRoots()
	for _, root := range roots {
		matches, _ := filepath.Glob(filepath.Join(root, jarGlobs[kind]))
		if len(matches) > 0 {
			sort.Strings(matches)
			return java, matches[len(matches)-1], nil
		}
	}
	return "", "", fmt.Errorf("emulators: %s emulator jar (%s) not found under the Cloud SDK roots %v; install apt package %s: %w",
		kind, jarGlobs[kind], roots, packages[kind], ErrNotInstalled)
}

// sdkRoots lists the places a Cloud SDK may live, most specific first.
func sdkRoots() []string {
	var roots []string
	if r := os.Getenv("CLOUDSDK_ROOT_DIR"); r != "" {
		roots = append(roots, r)
	}
	if g, err := exec.LookPath("gcloud"); err == nil {
		if real, err := filepath.EvalSymlinks(g); err == nil {
			roots = append(roots, filepath.Dir(filepath.Dir(real))) // ROOT/bin/gcloud
		}
	}
	roots = append(roots, "/usr/lib/google-cloud-sdk", "/usr/share/google-cloud-sdk", "/opt/google-cloud-sdk")
	if home, err := os.UserHomeDir(); err == nil {
		roots = append(roots, filepath.Join(home, "google-cloud-sdk"))
	}
	seen := map[string]bool{}
	out := roots[:0]
	for _, r := range roots {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}
