package buildpacks

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// descriptor is what this test reads of a project.toml.
type descriptor struct {
	Underscore struct {
		SchemaVersion string `toml:"schema-version"`
		ID            string `toml:"id"`
	} `toml:"_"`
	IO struct {
		Buildpacks struct {
			Build struct {
				Env []struct {
					Name  string `toml:"name"`
					Value string `toml:"value"`
				} `toml:"env"`
			} `toml:"build"`
		} `toml:"buildpacks"`
	} `toml:"io"`
}

func (d descriptor) env(name string) string {
	for _, e := range d.IO.Buildpacks.Build.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// images are the images that are not functions: name => buildable.
var images = map[string]string{"ingress": "./buildpacks/ingress"}

// functionNames lists the deployable functions: folders of functions/ with a function.go.
func functionNames(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("../functions")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "cmd" {
			if _, err := os.Stat(filepath.Join("../functions", e.Name(), "function.go")); err == nil {
				names = append(names, e.Name())
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("no functions under functions/")
	}
	return names
}

// goMinor is go.mod's go version as major.minor (the buildpack's GOOGLE_RUNTIME_VERSION).
func goMinor(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}

// TestDescriptors: every function has buildpacks/<name>/project.toml building
// ./functions/<name>/cmd, every descriptor belongs to a function or a known image, each builds
// on go.mod's Go version, and every buildable is a main package that compiles.
func TestDescriptors(t *testing.T) {
	want := map[string]string{}
	for _, n := range functionNames(t) {
		want[n] = "./functions/" + n + "/cmd"
	}
	for n, b := range images {
		want[n] = b
	}
	goVersion := goMinor(t)

	found, err := filepath.Glob("*/project.toml")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	var buildables []string
	for _, path := range found {
		name := filepath.Dir(path)
		have[name] = true
		var d descriptor
		if _, err := toml.DecodeFile(path, &d); err != nil {
			t.Errorf("buildpacks/%s: %v", path, err)
			continue
		}
		wb, ok := want[name]
		if !ok {
			t.Errorf("buildpacks/%s: no functions/%s/function.go and not a known image (%v): remove it or add the function", path, name, images)
			continue
		}
		if got := d.env("GOOGLE_BUILDABLE"); got != wb {
			t.Errorf("buildpacks/%s: GOOGLE_BUILDABLE = %q, want %q", path, got, wb)
		}
		if got := d.env("GOOGLE_RUNTIME_VERSION"); got != goVersion {
			t.Errorf("buildpacks/%s: GOOGLE_RUNTIME_VERSION = %q, want %q (go.mod's go version)", path, got, goVersion)
		}
		if got, wantID := d.Underscore.ID, "runyard-"+name; got != wantID {
			t.Errorf("buildpacks/%s: [_] id = %q, want %q", path, got, wantID)
		}
		buildables = append(buildables, wb)
	}
	for n, b := range want {
		if !have[n] {
			t.Errorf("functions/%s has no buildpacks/%s/project.toml: copy buildpacks/sweeper/project.toml and set GOOGLE_BUILDABLE = %q and id = \"runyard-%s\"", n, n, b, n)
		}
	}
	if len(buildables) == 0 {
		return
	}
	slices.Sort(buildables)

	// One go list for every buildable: each must be package main.
	list := exec.Command("go", append([]string{"list", "-f", "{{.ImportPath}} {{.Name}}"}, buildables...)...)
	list.Dir = ".."
	out, err := list.CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(buildables, " "), err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, pkg, _ := strings.Cut(line, " ")
		if pkg != "main" {
			t.Errorf("%s is package %s; GOOGLE_BUILDABLE must name a main package", path, pkg)
		}
	}
	// One go build for all of them, into a temporary folder: they compile and link.
	build := exec.Command("go", append([]string{"build", "-o", t.TempDir() + string(filepath.Separator)}, buildables...)...)
	build.Dir = ".."
	var stderr bytes.Buffer
	build.Stderr = &stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(buildables, " "), err, stderr.String())
	}
}

// TestCloudBuildBuildsEveryImage: cloudbuild.yaml has a pack step for every descriptor.
func TestCloudBuildBuildsEveryImage(t *testing.T) {
	b, err := os.ReadFile("../cloudbuild.yaml")
	if err != nil {
		t.Fatal(err)
	}
	found, err := filepath.Glob("*/project.toml")
	if err != nil {
		t.Fatal(err)
	}
	// The plan (and so the deploy) waits for every image: infra/ deploys them all at the commit.
	plan := regexp.MustCompile(`(?s)- id: plan\n.*?\n    waitFor: \[([^\]]*)\]`).FindSubmatch(b)
	if plan == nil {
		t.Fatal("cloudbuild.yaml: no plan step with a waitFor list")
	}
	waits := strings.Split(string(plan[1]), ",")
	for i := range waits {
		waits[i] = strings.TrimSpace(waits[i])
	}
	for _, path := range found {
		name := filepath.Dir(path)
		if !bytes.Contains(b, []byte("- id: image-"+name+"\n")) || !bytes.Contains(b, []byte("--descriptor=buildpacks/"+name+"/project.toml")) {
			t.Errorf("cloudbuild.yaml builds no image from buildpacks/%s: add an image-%s step (copy image-sweeper)", path, name)
		}
		if !slices.Contains(waits, "image-"+name) {
			t.Errorf("cloudbuild.yaml: the plan step's waitFor lacks image-%s (the deploy would use an image not pushed yet)", name)
		}
	}
}
