package detect

import (
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// Default runtime versions, used when the repository states none. They track the current
// long-term-support (or latest stable) line of each runtime; see README.md.
var defaultVersions = map[string]string{
	"node": "22", "bun": "1", "deno": "2", "python": "3.13", "go": "1.25", "ruby": "3.4", "php": "8.4",
	"java": "21", "rust": "1", "dotnet": "8.0", "elixir": "1.18", "gleam": "1", "dart": "3", "swift": "6",
	"zig": "0.14", "crystal": "1", "haskell": "9.8", "scala": "3", "clojure": "21",
}

var versionNumber = regexp.MustCompile(`\d+(\.\d+){0,2}`)

// cleanVersion normalizes a version or simple constraint ("v18", "18.x", ">=3.11", "~> 3.2.0",
// "^8.1", "python-3.11.4") to the version it names. It returns "" for aliases it cannot resolve.
func cleanVersion(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "latest") || strings.EqualFold(s, "*") {
		return ""
	}
	if strings.HasPrefix(strings.ToLower(s), "lts") {
		return ""
	}
	// For a range take its first clause ("^8.1 || ^8.2", ">=18 <21").
	if i := strings.Index(s, "||"); i >= 0 {
		s = s[:i]
	}
	m := versionNumber.FindString(s)
	return m
}

// toolVersions parses .tool-versions / mise.toml / .mise.toml for a tool's version.
func toolVersion(a *app, names ...string) (string, string) {
	if b, ok := a.read(".tool-versions"); ok {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && !strings.HasPrefix(f[0], "#") {
				for _, n := range names {
					if f[0] == n {
						if v := cleanVersion(f[1]); v != "" {
							return v, ".tool-versions"
						}
					}
				}
			}
		}
	}
	for _, file := range []string{"mise.toml", ".mise.toml"} {
		b, ok := a.read(file)
		if !ok {
			continue
		}
		var doc struct {
			Tools map[string]any `toml:"tools"`
		}
		if _, err := toml.Decode(string(b), &doc); err != nil {
			a.warn("%s: %v", a.rel(file), err)
			continue
		}
		for _, n := range names {
			if s, ok := doc.Tools[n].(string); ok {
				if v := cleanVersion(s); v != "" {
					return v, file
				}
			}
		}
	}
	return "", ""
}

// versionFile returns the cleaned first line of a version file.
func versionFile(a *app, name string) string {
	b, ok := a.read(name)
	if !ok {
		return ""
	}
	line := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	return cleanVersion(line)
}

// setVersion fills the plan's runtime version from the first source that states one, else the default.
func setVersion(p *Plan, runtime string, found ...[2]string) {
	for _, f := range found {
		if f[0] != "" {
			p.RuntimeVersion, p.RuntimeVersionSource = ptr(f[0]), ptr(f[1])
			return
		}
	}
	if d, ok := defaultVersions[runtime]; ok {
		p.RuntimeVersion, p.RuntimeVersionSource = ptr(d), ptr("default")
	}
}

func vs(v, src string) [2]string { return [2]string{v, src} }
