package detect

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

var wsgiApp = regexp.MustCompile(`WSGI_APPLICATION\s*=\s*['"]([\w.]+)\.(\w+)['"]`)

// pythonDeps returns the lower-cased distribution names the manifests declare.
func pythonDeps(a *app, py *pyproject) map[string]bool {
	deps := map[string]bool{}
	name := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		if i := strings.IndexAny(s, "<>=!~[;@ "); i >= 0 {
			s = s[:i]
		}
		return strings.ReplaceAll(s, "_", "-")
	}
	if b, ok := a.read("requirements.txt"); ok {
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "-") {
				continue
			}
			deps[name(line)] = true
		}
	}
	if py != nil {
		for _, d := range py.Dependencies {
			deps[name(d)] = true
		}
	}
	if b, ok := a.read("Pipfile"); ok {
		var pf struct {
			Packages map[string]any `toml:"packages"`
		}
		if _, err := toml.Decode(string(b), &pf); err == nil {
			for k := range pf.Packages {
				deps[name(k)] = true
			}
		}
	}
	return deps
}

func isPython(a *app) bool {
	for _, f := range []string{"requirements.txt", "pyproject.toml", "Pipfile", "setup.py", "main.py", "app.py", "uv.lock", "poetry.lock", ".python-version", "runtime.txt"} {
		if a.has(f) {
			return true
		}
	}
	return len(a.rootFilesWithExt(".py")) > 0
}

func detectPython(a *app, env map[string]string) (*Plan, bool, error) {
	if !isPython(a) {
		return nil, false, nil
	}
	p := &Plan{Provider: "python", Language: "python"}
	var py *pyproject
	if b, ok := a.read("pyproject.toml"); ok {
		var err error
		if py, err = parsePyproject(b); err != nil {
			a.warn("%s: %v", a.rel("pyproject.toml"), err)
		}
	}
	pm := ""
	switch {
	case a.has("uv.lock") || (py != nil && py.UVWorkspace):
		pm = "uv"
	case a.has("poetry.lock") || (py != nil && py.Poetry):
		pm = "poetry"
	case a.has("pdm.lock") || (py != nil && py.PDM):
		pm = "pdm"
	case a.has("Pipfile"):
		pm = "pipenv"
	case a.has("requirements.txt"), a.has("setup.py"), py != nil && strings.HasPrefix(py.BuildBackend, "setuptools"):
		pm = "pip"
	case py != nil:
		pm = "uv"
	}
	if pm != "" {
		p.PackageManager = ptr(pm)
		p.PackageManagerVersionSource = ptr("default")
	}
	switch pm {
	case "uv":
		if a.has("uv.lock") {
			p.InstallCmds = []string{"uv sync --locked --no-dev --no-install-project"}
			p.BuildCmds = []string{"uv sync --locked --no-dev --no-editable"}
		} else {
			p.InstallCmds = []string{"uv sync --no-dev --no-install-project"}
		}
	case "poetry":
		p.InstallCmds = []string{"poetry install --no-interaction --no-ansi --only main --no-root"}
	case "pdm":
		p.InstallCmds = []string{"pdm install --check --prod --no-editable"}
	case "pipenv":
		if a.has("Pipfile.lock") {
			p.InstallCmds = []string{"pipenv install --deploy --ignore-pipfile"}
		} else {
			p.InstallCmds = []string{"pipenv install --skip-lock"}
		}
	case "pip":
		if a.has("requirements.txt") {
			p.InstallCmds = []string{"pip install -r requirements.txt"}
		} else {
			p.InstallCmds = []string{"pip install ."}
		}
	}

	// Runtime version.
	tv, tvSrc := toolVersion(a, "python")
	rt := ""
	if b, ok := a.read("runtime.txt"); ok {
		rt = cleanVersion(strings.TrimPrefix(strings.TrimSpace(string(b)), "python-"))
	}
	req := ""
	if py != nil {
		req = cleanVersion(py.RequiresPython)
		if req == "" {
			req = cleanVersion(py.PoetryPython)
		}
	}
	pipfilePy := ""
	if b, ok := a.read("Pipfile"); ok {
		var pf struct {
			Requires struct {
				PythonVersion     string `toml:"python_version"`
				PythonFullVersion string `toml:"python_full_version"`
			} `toml:"requires"`
		}
		if _, err := toml.Decode(string(b), &pf); err != nil {
			a.warn("%s: %v", a.rel("Pipfile"), err)
		}
		pipfilePy = cleanVersion(pf.Requires.PythonVersion + pf.Requires.PythonFullVersion)
	}
	setVersion(p, "python",
		vs(versionFile(a, ".python-version"), ".python-version"),
		vs(rt, "runtime.txt"),
		vs(tv, tvSrc),
		vs(pipfilePy, "Pipfile"),
		vs(req, "pyproject.toml requires-python"))

	// Framework and start command.
	deps := pythonDeps(a, py)
	entry := ""
	for _, f := range []string{"main.py", "app.py", "bot.py", "server.py", "start.py", "run.py"} {
		if a.has(f) {
			entry = f
			break
		}
	}
	module := strings.TrimSuffix(entry, ".py")
	bind := "0.0.0.0:${PORT:-8000}"
	switch {
	case a.has("manage.py") && (deps["django"] || len(deps) == 0):
		p.Framework = ptr("django")
		wsgi := djangoWSGI(a)
		if wsgi != "" {
			p.StartCmd = ptr("python manage.py migrate && gunicorn --bind " + bind + " " + wsgi)
		} else {
			p.StartCmd = ptr("python manage.py migrate && python manage.py runserver 0.0.0.0:${PORT:-8000}")
		}
		p.Port = ptr(8000)
	case (deps["fastapi"] || deps["python-fasthtml"]) && entry != "":
		if deps["fastapi"] {
			p.Framework = ptr("fastapi")
		}
		p.StartCmd = ptr(fmt.Sprintf("uvicorn %s:app --host 0.0.0.0 --port ${PORT:-8000}", module))
		p.Port = ptr(8000)
	case deps["flask"] && deps["gunicorn"] && entry != "":
		p.Framework = ptr("flask")
		p.StartCmd = ptr(fmt.Sprintf("gunicorn --bind %s %s:app", bind, module))
		p.Port = ptr(8000)
	case deps["streamlit"] && entry != "":
		p.Framework = ptr("streamlit")
		p.StartCmd = ptr("streamlit run " + entry + " --server.address 0.0.0.0 --server.port ${PORT:-8501}")
		p.Port = ptr(8501)
	case entry != "":
		if deps["flask"] {
			p.Framework = ptr("flask")
		}
		p.StartCmd = ptr("python " + entry)
	case py != nil && py.Name != "" && a.has(py.Name+"/__main__.py"):
		p.StartCmd = ptr("python -m " + py.Name)
	case py != nil && py.Name != "" && a.has(strings.ReplaceAll(py.Name, "-", "_")+"/__main__.py"):
		p.StartCmd = ptr("python -m " + strings.ReplaceAll(py.Name, "-", "_"))
	case py != nil && len(py.Scripts) > 0:
		names := sortedKeys(py.Scripts)
		p.StartCmd = ptr(names[0])
	case deps["google-adk"]:
		p.Framework = ptr("google-adk")
		p.StartCmd = ptr("adk api_server --host 0.0.0.0 --port ${PORT:-8000}")
		p.Port = ptr(8000)
	default:
		return p, true, fmt.Errorf("%w: for Python, provide a main.py or app.py, a [project.scripts] entry, or set start_cmd in runyard.toml", ErrNoStartCommand)
	}
	return p, true, nil
}

// djangoWSGI finds "module.wsgi:application" from WSGI_APPLICATION in a settings file.
func djangoWSGI(a *app) string {
	files := a.files(func(rel string) bool {
		return strings.HasSuffix(rel, "settings.py") || strings.Contains(rel, "/settings/") && strings.HasSuffix(rel, ".py")
	})
	for _, f := range files {
		if m := wsgiApp.FindStringSubmatch(a.readString(f)); m != nil {
			return m[1] + ":" + m[2]
		}
	}
	return ""
}
