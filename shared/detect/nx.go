package detect

import (
	"encoding/json"
	"path"
	"strings"
)

// nxApp reads an Nx workspace's default project and returns its build and start commands
// (`npx nx run app:build[:production]`; start from the project's start target, the Next.js serve
// target, or `node <outputPath>/main.js`). ok is false when the workspace names no default project.
func nxApp(a *app, env map[string]string) (build, start string, ok bool) {
	b, found := a.read("nx.json")
	if !found {
		return "", "", false
	}
	var nx struct {
		DefaultProject string `json:"defaultProject"`
	}
	_ = json.Unmarshal(b, &nx)
	name := nx.DefaultProject
	if v := env["NIXPACKS_NX_APP_NAME"]; v != "" {
		name = v
	}
	if name == "" {
		return "", "", false
	}
	projDir := ""
	if wb, found := a.read("workspace.json"); found {
		var ws struct {
			Projects map[string]json.RawMessage `json:"projects"`
		}
		if json.Unmarshal(wb, &ws) == nil {
			var dir string
			if json.Unmarshal(ws.Projects[name], &dir) == nil {
				projDir = dir
			}
		}
	}
	if projDir == "" {
		for _, d := range []string{"apps/" + name, "packages/" + name, name} {
			if a.has(path.Join(d, "project.json")) {
				projDir = d
				break
			}
		}
	}
	type target struct {
		Executor       string                     `json:"executor"`
		Options        map[string]json.RawMessage `json:"options"`
		Configurations map[string]json.RawMessage `json:"configurations"`
	}
	var proj struct {
		Targets map[string]target `json:"targets"`
	}
	if pb, found := a.read(path.Join(projDir, "project.json")); !found || json.Unmarshal(pb, &proj) != nil {
		return "", "", false
	}
	run := func(t string) string {
		s := "npx nx run " + name + ":" + t
		if _, ok := proj.Targets[t].Configurations["production"]; ok {
			s += ":production"
		}
		return s
	}
	bt, hasBuild := proj.Targets["build"]
	if hasBuild {
		build = run("build")
	}
	switch {
	case proj.Targets["start"].Executor != "":
		start = run("start")
	case strings.HasSuffix(bt.Executor, "next:build"):
		start = run("serve")
	default:
		var out, main string
		_ = json.Unmarshal(bt.Options["outputPath"], &out)
		_ = json.Unmarshal(bt.Options["main"], &main)
		if out == "" {
			return build, "", hasBuild
		}
		file := "main.js"
		if main != "" {
			file = strings.TrimSuffix(path.Base(main), path.Ext(main)) + ".js"
		}
		start = "node " + path.Join(out, file)
	}
	return build, start, true
}
