package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
	"golang.org/x/mod/modfile"
)

// packageJSON is the part of package.json detection reads.
type packageJSON struct {
	Name            string
	Main            string
	Module          string
	Type            string
	Scripts         map[string]string
	Engines         map[string]string
	PackageManager  string
	Workspaces      []string
	Dependencies    map[string]string
	DevDependencies map[string]string
}

func (p *packageJSON) dep(name string) bool {
	if p == nil {
		return false
	}
	_, a := p.Dependencies[name]
	_, b := p.DevDependencies[name]
	return a || b
}

// parsePackageJSON parses package.json leniently: fields of an unexpected type are ignored.
func parsePackageJSON(b []byte) (*packageJSON, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("package.json: %w", err)
	}
	p := &packageJSON{}
	str := func(k string) string {
		var s string
		if v, ok := raw[k]; ok {
			_ = json.Unmarshal(v, &s)
		}
		return s
	}
	strMap := func(k string) map[string]string {
		var m map[string]any
		if v, ok := raw[k]; ok {
			_ = json.Unmarshal(v, &m)
		}
		out := map[string]string{}
		for k, v := range m {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
		return out
	}
	p.Name, p.Main, p.Module, p.Type, p.PackageManager = str("name"), str("main"), str("module"), str("type"), str("packageManager")
	p.Scripts, p.Engines = strMap("scripts"), strMap("engines")
	p.Dependencies, p.DevDependencies = strMap("dependencies"), strMap("devDependencies")
	if v, ok := raw["workspaces"]; ok {
		var list []string
		if json.Unmarshal(v, &list) != nil {
			var obj struct {
				Packages []string `json:"packages"`
			}
			_ = json.Unmarshal(v, &obj)
			list = obj.Packages
		}
		p.Workspaces = list
	}
	return p, nil
}

// pyproject is the part of pyproject.toml detection reads.
type pyproject struct {
	Name           string
	RequiresPython string
	Dependencies   []string
	Scripts        map[string]string
	Poetry         bool
	PoetryPython   string
	PDM            bool
	UVWorkspace    bool
	BuildBackend   string
}

func parsePyproject(b []byte) (*pyproject, error) {
	var doc struct {
		Project struct {
			Name           string         `toml:"name"`
			RequiresPython string         `toml:"requires-python"`
			Dependencies   []any          `toml:"dependencies"`
			Scripts        map[string]any `toml:"scripts"`
		} `toml:"project"`
		Tool struct {
			Poetry *struct {
				Dependencies map[string]any `toml:"dependencies"`
				Scripts      map[string]any `toml:"scripts"`
				Name         string         `toml:"name"`
			} `toml:"poetry"`
			PDM *map[string]any `toml:"pdm"`
			UV  *struct {
				Workspace *map[string]any `toml:"workspace"`
			} `toml:"uv"`
		} `toml:"tool"`
		BuildSystem struct {
			BuildBackend string `toml:"build-backend"`
		} `toml:"build-system"`
	}
	if _, err := toml.Decode(string(b), &doc); err != nil {
		return nil, fmt.Errorf("pyproject.toml: %w", err)
	}
	p := &pyproject{Name: doc.Project.Name, RequiresPython: doc.Project.RequiresPython, Scripts: map[string]string{},
		BuildBackend: doc.BuildSystem.BuildBackend}
	for _, d := range doc.Project.Dependencies {
		if s, ok := d.(string); ok {
			p.Dependencies = append(p.Dependencies, s)
		}
	}
	for k, v := range doc.Project.Scripts {
		if s, ok := v.(string); ok {
			p.Scripts[k] = s
		}
	}
	if pt := doc.Tool.Poetry; pt != nil {
		p.Poetry = true
		if p.Name == "" {
			p.Name = pt.Name
		}
		for k, v := range pt.Dependencies {
			if k == "python" {
				if s, ok := v.(string); ok {
					p.PoetryPython = s
				}
				continue
			}
			p.Dependencies = append(p.Dependencies, k)
		}
		for k, v := range pt.Scripts {
			if s, ok := v.(string); ok {
				p.Scripts[k] = s
			}
		}
	}
	p.PDM = doc.Tool.PDM != nil
	p.UVWorkspace = doc.Tool.UV != nil && doc.Tool.UV.Workspace != nil
	return p, nil
}

// goMod is the part of go.mod detection reads.
type goMod struct {
	Module    string
	Go        string
	Toolchain string
}

func parseGoMod(b []byte) (*goMod, error) {
	f, err := modfile.ParseLax("go.mod", b, nil)
	if err != nil {
		return nil, fmt.Errorf("go.mod: %w", err)
	}
	g := &goMod{}
	if f.Module != nil {
		g.Module = f.Module.Mod.Path
	}
	if f.Go != nil {
		g.Go = f.Go.Version
	}
	if f.Toolchain != nil {
		g.Toolchain = strings.TrimPrefix(f.Toolchain.Name, "go")
	}
	return g, nil
}

// gemfile is the part of a Gemfile detection reads (the Ruby DSL is scanned, not evaluated).
type gemfile struct {
	Ruby string
	Gems map[string]bool
}

var (
	gemLine  = regexp.MustCompile(`^\s*gem\s*\(?\s*["']([^"']+)["']`)
	rubyLine = regexp.MustCompile(`^\s*ruby\s*\(?\s*["']([^"']+)["']`)
)

func parseGemfile(b []byte) (*gemfile, error) {
	g := &gemfile{Gems: map[string]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := gemLine.FindStringSubmatch(line); m != nil {
			g.Gems[m[1]] = true
		} else if m := rubyLine.FindStringSubmatch(line); m != nil && g.Ruby == "" {
			g.Ruby = strings.TrimSpace(strings.TrimLeft(m[1], "~>= "))
		}
	}
	if err := sc.Err(); err != nil {
		return g, fmt.Errorf("parse Gemfile: %w", err)
	}
	return g, nil
}

// composerJSON is the part of composer.json detection reads.
type composerJSON struct {
	Require    map[string]string
	RequireDev map[string]string
	Scripts    map[string]json.RawMessage
}

func parseComposer(b []byte) (*composerJSON, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("composer.json: %w", err)
	}
	c := &composerJSON{Require: map[string]string{}, RequireDev: map[string]string{}, Scripts: map[string]json.RawMessage{}}
	for k, dst := range map[string]map[string]string{"require": c.Require, "require-dev": c.RequireDev} {
		var m map[string]any
		if v, ok := raw[k]; ok {
			_ = json.Unmarshal(v, &m)
		}
		for name, ver := range m {
			if s, ok := ver.(string); ok {
				dst[name] = s
			}
		}
	}
	if v, ok := raw["scripts"]; ok {
		_ = json.Unmarshal(v, &c.Scripts)
	}
	return c, nil
}

// pomXML is the part of pom.xml detection reads.
type pomXML struct {
	ArtifactID   string
	Packaging    string
	Parent       string // parent artifactId
	JavaVersion  string
	Dependencies []string // artifactIds
	Plugins      []string // artifactIds
}

func parsePom(b []byte) (*pomXML, error) {
	var doc struct {
		ArtifactID string `xml:"artifactId"`
		Packaging  string `xml:"packaging"`
		Parent     struct {
			ArtifactID string `xml:"artifactId"`
		} `xml:"parent"`
		Properties struct {
			Any []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"properties"`
		Dependencies []struct {
			ArtifactID string `xml:"artifactId"`
		} `xml:"dependencies>dependency"`
		Plugins []struct {
			ArtifactID string `xml:"artifactId"`
		} `xml:"build>plugins>plugin"`
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	if err := d.Decode(&doc); err != nil {
		return nil, fmt.Errorf("pom.xml: %w", err)
	}
	p := &pomXML{ArtifactID: doc.ArtifactID, Packaging: doc.Packaging, Parent: doc.Parent.ArtifactID}
	props := map[string]string{}
	for _, a := range doc.Properties.Any {
		props[a.XMLName.Local] = strings.TrimSpace(a.Value)
	}
	for _, k := range []string{"java.version", "maven.compiler.release", "maven.compiler.source", "maven.compiler.target"} {
		if v := props[k]; v != "" && !strings.Contains(v, "$") {
			p.JavaVersion = v
			break
		}
	}
	for _, dep := range doc.Dependencies {
		p.Dependencies = append(p.Dependencies, dep.ArtifactID)
	}
	for _, pl := range doc.Plugins {
		p.Plugins = append(p.Plugins, pl.ArtifactID)
	}
	return p, nil
}
