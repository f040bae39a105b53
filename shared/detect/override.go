package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// overrides are the fields a repository's runyard.toml sets; nil means "keep detected".
type overrides struct {
	AppDir         *string `toml:"app_dir"`
	Provider       *string `toml:"provider"`
	Language       *string `toml:"language"`
	Framework      *string `toml:"framework"`
	PackageManager *string `toml:"package_manager"`
	RuntimeVersion *string `toml:"runtime_version"`
	InstallCmd     *string `toml:"install_cmd"`
	BuildCmd       *string `toml:"build_cmd"`
	StartCmd       *string `toml:"start_cmd"`
	Port           *int    `toml:"port"`
	Strategy       *string `toml:"strategy"`
	StaticRoot     *string `toml:"static_root"`

	env map[string]string // from project.toml [[io.buildpacks.build.env]]
}

func (o overrides) any() bool {
	return o.Provider != nil || o.StartCmd != nil || o.Strategy != nil || o.InstallCmd != nil || o.BuildCmd != nil
}

// loadOverrides reads runyard.toml and the env table of a buildpacks project.toml.
func loadOverrides(r *repo) overrides {
	var o overrides
	if b, ok := r.read("runyard.toml"); ok {
		if _, err := toml.Decode(string(b), &o); err != nil {
			r.warn("runyard.toml: %v; ignored", err)
			o = overrides{}
		}
	}
	if b, ok := r.read("project.toml"); ok {
		var pt struct {
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
		if _, err := toml.Decode(string(b), &pt); err != nil {
			r.warn("project.toml: %v; ignored", err)
		} else {
			for _, e := range pt.IO.Buildpacks.Build.Env {
				if o.env == nil {
					o.env = map[string]string{}
				}
				o.env[e.Name] = e.Value
			}
		}
	}
	return o
}

func (o overrides) apply(p *Plan) {
	setS := func(dst **string, v *string) {
		if v != nil {
			s := *v
			*dst = &s
		}
	}
	if o.Provider != nil {
		p.Provider = *o.Provider
	}
	if o.Language != nil {
		p.Language = *o.Language
	}
	setS(&p.Framework, o.Framework)
	setS(&p.PackageManager, o.PackageManager)
	if o.RuntimeVersion != nil {
		p.RuntimeVersion, p.RuntimeVersionSource = ptr(*o.RuntimeVersion), ptr("runyard.toml")
	}
	if o.InstallCmd != nil {
		p.InstallCmds = []string{*o.InstallCmd}
	}
	if o.BuildCmd != nil {
		p.BuildCmds = []string{*o.BuildCmd}
	}
	setS(&p.StartCmd, o.StartCmd)
	if o.Port != nil {
		p.Port = ptr(*o.Port)
	}
	if o.Strategy != nil {
		p.Strategy, p.StrategyReason = *o.Strategy, "set in runyard.toml"
	}
	setS(&p.StaticRoot, o.StaticRoot)
}

// depFiles are the files that decide the dependency layer, per app directory.
var depFiles = []string{
	// node
	"package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "pnpm-workspace.yaml",
	"bun.lockb", "bun.lock", ".npmrc", ".yarnrc.yml", ".nvmrc", ".node-version", "deno.json", "deno.jsonc", "deno.lock", ".bun-version",
	// python
	"requirements.txt", "pyproject.toml", "poetry.lock", "uv.lock", "Pipfile", "Pipfile.lock", "pdm.lock", "setup.py", "setup.cfg",
	".python-version", "runtime.txt",
	// go
	"go.mod", "go.sum", "go.work", "go.work.sum",
	// ruby
	"Gemfile", "Gemfile.lock", ".ruby-version",
	// php
	"composer.json", "composer.lock",
	// jvm
	"pom.xml", "build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts", "gradle.properties",
	"gradle/wrapper/gradle-wrapper.properties", "project.clj", "deps.edn", "build.sbt", ".java-version", ".jdk-version", "system.properties",
	// rust
	"Cargo.toml", "Cargo.lock", "rust-toolchain", "rust-toolchain.toml",
	// others
	"mix.exs", "mix.lock", "gleam.toml", "manifest.toml", "pubspec.yaml", "pubspec.lock", "shard.yml", "shard.lock",
	"Package.swift", "Package.resolved", "stack.yaml", "stack.yaml.lock", "build.zig", "build.zig.zon", "global.json",
	".tool-versions", "mise.toml", ".mise.toml",
}

// maxMemberManifests bounds the workspace member manifests hashed into the cache key.
const maxMemberManifests = 128

// cacheKey hashes exactly the dependency-deciding inputs: the sorted (path, content hash) of the
// dependency files present in the app directory and the repository root (workspaces keep their
// lockfile at the root), workspace package manifests, plus provider and runtime version.
func cacheKey(a *app, p *Plan) (string, []string) {
	seen := map[string]bool{}
	var inputs []string
	add := func(rel string) {
		rel = path.Clean(rel)
		if seen[rel] || !a.repo.has(rel) || a.repo.isDir(rel) {
			return
		}
		seen[rel] = true
		inputs = append(inputs, rel)
	}
	for _, f := range depFiles {
		add(a.rel(f))
		add(f)
	}
	for _, f := range a.rootFilesWithExt(".csproj") {
		add(a.rel(f))
	}
	for _, f := range a.rootFilesWithExt(".fsproj") {
		add(a.rel(f))
	}
	// Workspace members' manifests decide the install too (bounded: the lockfile records the rest).
	var members []string
	for rel, e := range a.repo.entries {
		if e.dir {
			continue
		}
		base := path.Base(rel)
		if (base == "package.json" || base == "Cargo.toml" || base == "pyproject.toml" || base == "go.mod") && strings.Count(rel, "/") <= 3 {
			members = append(members, rel)
		}
	}
	sort.Strings(members)
	if len(members) > maxMemberManifests {
		a.warn("cache key hashes the first %d of %d workspace manifests (the lockfile covers the rest)", maxMemberManifests, len(members))
		members = members[:maxMemberManifests]
	}
	for _, m := range members {
		add(m)
	}
	sort.Strings(inputs)
	h := sha256.New()
	fmt.Fprintf(h, "runyard-cache-v1\nprovider=%s\n", p.Provider)
	if p.PackageManager != nil {
		fmt.Fprintf(h, "package_manager=%s\n", *p.PackageManager)
	}
	if p.RuntimeVersion != nil {
		fmt.Fprintf(h, "runtime=%s\n", *p.RuntimeVersion)
	}
	for _, in := range inputs {
		sum, ok := a.repo.hashFile(in)
		if !ok {
			continue
		}
		fmt.Fprintf(h, "%s %s\n", sum, in)
	}
	if inputs == nil {
		inputs = []string{}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), inputs
}
