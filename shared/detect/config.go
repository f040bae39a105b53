package detect

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// configStart returns the start command an app's own config files state, and the file:
// Procfile (web, else the only process), nixpacks.toml [start] cmd, railpack.json deploy.startCommand,
// app.yaml entrypoint. Later entries in this order win.
func configStart(a *app) (string, string) {
	cmd, src := "", ""
	if b, ok := a.read("Procfile"); ok {
		procs := map[string]string{}
		var order []string
		for _, line := range strings.Split(string(b), "\n") {
			name, c, ok := strings.Cut(line, ":")
			name, c = strings.TrimSpace(name), strings.TrimSpace(c)
			if !ok || name == "" || c == "" || strings.HasPrefix(name, "#") {
				continue
			}
			procs[name] = c
			order = append(order, name)
		}
		if c, ok := procs["web"]; ok {
			cmd, src = c, "Procfile"
		} else if len(order) > 0 {
			cmd, src = procs[order[0]], "Procfile"
		}
	}
	if b, ok := a.read("nixpacks.toml"); ok {
		var doc struct {
			Start struct {
				Cmd string `toml:"cmd"`
			} `toml:"start"`
		}
		if _, err := toml.Decode(string(b), &doc); err != nil {
			a.warn("%s: %v", a.rel("nixpacks.toml"), err)
		} else if doc.Start.Cmd != "" {
			cmd, src = doc.Start.Cmd, "nixpacks.toml"
		}
	}
	if b, ok := a.read("railpack.json"); ok {
		var doc struct {
			Deploy struct {
				StartCommand string `json:"startCommand"`
			} `json:"deploy"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			a.warn("%s: %v", a.rel("railpack.json"), err)
		} else if doc.Deploy.StartCommand != "" {
			cmd, src = doc.Deploy.StartCommand, "railpack.json"
		}
	}
	if b, ok := a.read("app.yaml"); ok {
		if m := appYAMLEntrypoint.FindSubmatch(b); m != nil {
			cmd, src = strings.Trim(strings.TrimSpace(string(m[1])), `"'`), "app.yaml"
		}
	}
	return cmd, src
}

var appYAMLEntrypoint = regexp.MustCompile(`(?m)^entrypoint:\s*(.+)$`)

// providerLanguages maps provider names (as nixpacks.toml `providers` spells them) to languages.
var providerLanguages = map[string]string{
	"node": "javascript", "deno": "javascript", "bun": "javascript", "python": "python", "go": "go", "ruby": "ruby",
	"php": "php", "java": "java", "rust": "rust", "elixir": "elixir", "csharp": "csharp", "dotnet": "csharp",
	"staticfile": "static", "shell": "shell",
}

// configStartOnly returns a minimal plan for a repository that matched no detector but states its
// start command in a config file; the provider comes from nixpacks.toml `providers` when present.
func configStartOnly(a *app) *Plan {
	cmd, _ := configStart(a)
	if cmd == "" {
		return nil
	}
	p := &Plan{Provider: "custom", Language: "unknown"}
	if b, ok := a.read("nixpacks.toml"); ok {
		var doc struct {
			Providers []string `toml:"providers"`
		}
		if _, err := toml.Decode(string(b), &doc); err == nil {
			for _, pr := range doc.Providers {
				if lang, ok := providerLanguages[pr]; ok {
					p.Provider, p.Language = pr, lang
					if pr == "node" {
						p.PackageManager = ptr("npm")
					}
					setVersion(p, pr)
					break
				}
			}
		}
	}
	return p
}
