package detect

import (
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// staticStartCmd serves a static root with the Runyard static image (Caddy with a Caddyfile at
// /Caddyfile that listens on $PORT); the spelling is Railpack's.
const staticStartCmd = "caddy run --config /Caddyfile --adapter caddyfile 2>&1"

var viteOutDir = regexp.MustCompile(`outDir\s*:\s*['"]([^'"]+)['"]`)

func detectNode(a *app, env map[string]string) (*Plan, bool, error) {
	manifest := "package.json"
	b, ok := a.read(manifest)
	if !ok {
		// pnpm also reads package.json5.
		if b, ok = a.read("package.json5"); !ok {
			return detectBareNode(a)
		}
		manifest = "package.json5"
		b = json5ToJSON(b)
	}
	pkg, err := parsePackageJSON(b)
	if err != nil {
		a.warn("%s: %v", a.rel(manifest), err)
		pkg = &packageJSON{Scripts: map[string]string{}, Engines: map[string]string{}}
	}
	p := &Plan{Provider: "node", Language: "javascript"}

	// Package manager: packageManager field, then lockfiles, then npm.
	pm, pmVer, pmSrc := "", "", ""
	if f := pkg.PackageManager; f != "" {
		name, ver, _ := strings.Cut(f, "@")
		if i := strings.IndexByte(ver, '+'); i >= 0 {
			ver = ver[:i]
		}
		switch name {
		case "npm", "pnpm", "yarn", "bun":
			pm, pmVer, pmSrc = name, ver, "package.json packageManager"
		}
	}
	lock := ""
	switch {
	case a.has("pnpm-lock.yaml"):
		lock = "pnpm"
	case a.has("bun.lockb"), a.has("bun.lock"):
		lock = "bun"
	case a.has("yarn.lock"):
		lock = "yarn"
	case a.has("package-lock.json"), a.has("npm-shrinkwrap.json"):
		lock = "npm"
	}
	if pm == "" {
		pm = lock
		if pm != "" {
			pmSrc = "lockfile"
		}
	}
	if pm == "" {
		switch {
		case pkg.Engines["bun"] != "" || strings.HasPrefix(pkg.Scripts["start"], "bun "):
			pm, pmSrc = "bun", "package.json engines"
		case pkg.Engines["pnpm"] != "" || manifest == "package.json5":
			pm, pmSrc = "pnpm", "package.json engines"
		}
	}
	if pm == "" {
		pm, pmSrc = "npm", "default"
	}
	if pmVer == "" {
		if v := cleanVersion(pkg.Engines[pm]); v != "" {
			pmVer, pmSrc = v, "package.json engines."+pm
		}
	}
	p.PackageManager = ptr(pm)
	if pmVer != "" {
		p.PackageManagerVersion = ptr(pmVer)
	}
	p.PackageManagerVersionSource = ptr(pmSrc)

	// Runtime version.
	tv, tvSrc := toolVersion(a, "node", "nodejs")
	setVersion(p, "node",
		vs(versionFile(a, ".nvmrc"), ".nvmrc"),
		vs(versionFile(a, ".node-version"), ".node-version"),
		vs(tv, tvSrc),
		vs(cleanVersion(pkg.Engines["node"]), "package.json engines.node"))
	if pm == "bun" {
		if v := versionFile(a, ".bun-version"); v != "" {
			p.PackageManagerVersion, p.PackageManagerVersionSource = ptr(v), ptr(".bun-version")
		}
	}

	// Install.
	var install string
	switch pm {
	case "npm":
		install = "npm i"
		if a.has("package-lock.json") || a.has("npm-shrinkwrap.json") {
			install = "npm ci"
		}
	case "pnpm":
		install = "pnpm i --frozen-lockfile"
		if !a.has("pnpm-lock.yaml") {
			install = "pnpm i"
		}
	case "yarn":
		if a.has(".yarnrc.yml") || strings.HasPrefix(pmVer, "2") || strings.HasPrefix(pmVer, "3") || strings.HasPrefix(pmVer, "4") {
			install = "yarn install --check-cache"
		} else {
			install = "yarn install --frozen-lockfile"
		}
		if !a.has("yarn.lock") {
			install = "yarn install"
		}
	case "bun":
		install = "bun install --frozen-lockfile"
		if !a.has("bun.lock") && !a.has("bun.lockb") {
			install = "bun install"
		}
	}
	p.InstallCmds = []string{install}
	run := func(script string) string { return pm + " run " + script }
	if _, ok := pkg.Scripts["build"]; ok {
		p.BuildCmds = []string{run("build")}
	}

	// Framework.
	fw := ""
	switch {
	case pkg.dep("next"):
		fw = "next"
	case pkg.dep("nuxt"):
		fw = "nuxt"
	case pkg.dep("@remix-run/node") || pkg.dep("@remix-run/react"):
		fw = "remix"
	case pkg.dep("@sveltejs/kit"):
		fw = "sveltekit"
	case pkg.dep("@tanstack/react-start") || pkg.dep("@tanstack/start"):
		fw = "tanstack-start"
	case pkg.dep("@react-router/dev"):
		fw = "react-router"
	case pkg.dep("astro"):
		fw = "astro"
	case pkg.dep("@angular/core"):
		fw = "angular"
	case pkg.dep("expo"):
		fw = "expo"
	case pkg.dep("react-scripts"):
		fw = "cra"
	case pkg.dep("vite"):
		fw = "vite"
	case pkg.dep("@nestjs/core"):
		fw = "nest"
	case pkg.dep("express"):
		fw = "express"
	}
	if fw != "" {
		p.Framework = ptr(fw)
	}

	p.Candidates = workspaceMembers(a, pkg.Workspaces)

	// Static single-page apps: built, then served by a static file server.
	if root, ok := nodeStaticRoot(a, pkg, fw); ok {
		if root != "" {
			p.StaticRoot = ptr(root)
		}
		p.StartCmd = ptr(staticStartCmd)
		p.Port = ptr(80)
		p.Strategy, p.StrategyReason = StrategyStatic, fw+" single-page app: the build output is served by a static file server"
		if p.BuildCmds == nil {
			p.BuildCmds = []string{run("build")}
		}
		return p, true, nil
	}

	// Start command.
	start := ""
	if nxBuild, nxStart, ok := nxApp(a, env); ok {
		if nxBuild != "" {
			p.BuildCmds = []string{nxBuild}
		}
		if nxStart != "" {
			p.StartCmd = ptr(nxStart)
			return p, true, nil
		}
	}
	_, hasStart := pkg.Scripts["start"]
	switch {
	case fw == "nuxt" && !hasStart:
		start = "node .output/server/index.mjs"
	case fw == "sveltekit" && !hasStart:
		start = "node build"
	case hasStart:
		start = run("start")
	case a.has("turbo.json"):
		start = "npx turbo run start"
	case pkg.Main != "" && a.has(pkg.Main):
		start = nodeRun(pm, pkg.Main)
	case pkg.Module != "" && a.has(pkg.Module):
		start = nodeRun(pm, pkg.Module)
	default:
		for _, f := range []string{"index.js", "index.ts", "main.js", "server.js", "app.js", "index.mjs", "src/index.js", "src/index.ts", "src/main.ts"} {
			if a.has(f) {
				if strings.HasSuffix(f, ".ts") && pm != "bun" {
					continue
				}
				start = nodeRun(pm, f)
				break
			}
		}
		if start == "" && pkg.Main != "" && pm != "bun" {
			// The main file does not exist in the checkout (it is probably built).
			start = "node " + path.Clean(pkg.Main)
		}
	}
	if start != "" {
		p.StartCmd = ptr(start)
	}
	switch fw {
	case "next", "nuxt", "remix", "sveltekit", "tanstack-start", "react-router":
		p.Port = ptr(3000)
	case "astro":
		p.Port = ptr(4321)
	}
	return p, true, nil
}

var trailingComma = regexp.MustCompile(`,(\s*[}\]])`)

// json5ToJSON turns the common JSON5 of package.json5 (line comments, trailing commas) into JSON.
func json5ToJSON(b []byte) []byte {
	s := stripJSONComments(string(b))
	return []byte(trailingComma.ReplaceAllString(s, "$1"))
}

// detectBareNode matches a Node server without package.json: a root server.js, app.js or index.js
// (and no index.html, which makes it a static site).
func detectBareNode(a *app) (*Plan, bool, error) {
	if a.has("index.html") {
		return nil, false, nil
	}
	for _, f := range []string{"server.js", "app.js", "index.js", "index.mjs"} {
		if a.has(f) {
			p := &Plan{Provider: "node", Language: "javascript", PackageManager: ptr("npm"), PackageManagerVersionSource: ptr("default")}
			tv, tvSrc := toolVersion(a, "node", "nodejs")
			setVersion(p, "node", vs(versionFile(a, ".nvmrc"), ".nvmrc"), vs(versionFile(a, ".node-version"), ".node-version"), vs(tv, tvSrc))
			p.StartCmd = ptr("node " + f)
			return p, true, nil
		}
	}
	return nil, false, nil
}

// maxCandidates bounds the workspace members listed in a plan.
const maxCandidates = 50

// workspaceMembers expands workspace patterns ("packages/*", "apps/web") one level, from the walk.
func workspaceMembers(a *app, patterns []string) []string {
	var out []string
	for _, pat := range patterns {
		pat = strings.TrimSuffix(strings.TrimPrefix(pat, "./"), "/")
		if strings.HasPrefix(pat, "!") || pat == "" {
			continue
		}
		dir, last := path.Split(pat)
		dir = strings.TrimSuffix(dir, "/")
		if !strings.ContainsAny(last, "*?[") {
			if a.has(path.Join(pat, "package.json")) {
				out = append(out, a.rel(pat))
			}
			continue
		}
		if strings.ContainsAny(dir, "*?[") {
			continue // nested globs: not expanded
		}
		for _, n := range a.list(dir) {
			if ok, _ := path.Match(last, n); ok && a.has(path.Join(dir, n, "package.json")) {
				out = append(out, a.rel(path.Join(dir, n)))
			}
		}
	}
	sort.Strings(out)
	out = slices.Compact(out)
	if len(out) > maxCandidates {
		a.warn("%d workspace members; candidates lists the first %d", len(out), maxCandidates)
		out = out[:maxCandidates]
	}
	return out
}

func nodeRun(pm, file string) string {
	if pm == "bun" {
		return "bun " + path.Clean(file)
	}
	return "node " + path.Clean(file)
}

// nodeStaticRoot reports whether the app is a static single-page app and its output directory.
func nodeStaticRoot(a *app, pkg *packageJSON, fw string) (string, bool) {
	build := pkg.Scripts["build"]
	if build == "" {
		return "", false
	}
	_, hasStart := pkg.Scripts["start"]
	cfg := func(names ...string) string {
		for _, n := range names {
			if b, ok := a.read(n); ok {
				return string(b)
			}
		}
		return ""
	}
	switch fw {
	case "vite":
		if hasStart {
			return "", false
		}
		c := cfg("vite.config.ts", "vite.config.js", "vite.config.mjs", "vite.config.mts")
		if m := viteOutDir.FindStringSubmatch(c); m != nil {
			return m[1], true
		}
		return "dist", true
	case "cra":
		return "build", true
	case "angular":
		if pkg.dep("@angular/ssr") || pkg.dep("@nguniversal/express-engine") {
			return "", false
		}
		if hasStart && !strings.Contains(pkg.Scripts["start"], "ng serve") {
			return "", false
		}
		return "dist/" + pkg.Name + "/browser", true
	case "astro":
		c := cfg("astro.config.mjs", "astro.config.ts", "astro.config.js")
		if strings.Contains(c, "adapter") || strings.Contains(c, "output: 'server'") || strings.Contains(c, `output: "server"`) {
			return "", false
		}
		if m := viteOutDir.FindStringSubmatch(c); m != nil {
			return m[1], true
		}
		return "dist", true
	case "react-router":
		c := cfg("react-router.config.ts", "react-router.config.js")
		if regexp.MustCompile(`ssr\s*:\s*false`).MatchString(c) {
			return "build/client/", true
		}
		return "", false
	case "expo":
		if strings.Contains(build, "expo export") {
			return "dist", true
		}
	case "next":
		c := cfg("next.config.js", "next.config.mjs", "next.config.ts")
		if regexp.MustCompile(`output\s*:\s*['"]export['"]`).MatchString(c) {
			return "", true
		}
	}
	return "", false
}
