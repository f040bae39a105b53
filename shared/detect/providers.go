package detect

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

type detector struct {
	name   string
	detect func(a *app, env map[string]string) (*Plan, bool, error)
}

// detectors run in order; the first that matches decides. See README.md "Decision rules".
var detectors = []detector{
	{"php", detectPHP},
	{"go", detectGo},
	{"clojure", detectClojure},
	{"scala", detectScala},
	{"java", detectJava},
	{"rust", detectRust},
	{"ruby", detectRuby},
	{"elixir", detectElixir},
	{"gleam", detectGleam},
	{"deno", detectDeno},
	{"node+python", detectNodeOrPython},
	{"dotnet", detectDotnet},
	{"dart", detectDart},
	{"crystal", detectCrystal},
	{"swift", detectSwift},
	{"zig", detectZig},
	{"haskell", detectHaskell},
	{"cobol", detectCobol},
	{"scheme", detectScheme},
	{"cpp", detectCpp},
	{"static", detectStatic},
	{"shell", detectShell},
}

// lookedFor names what detection looks for, for the not-detected error.
const lookedFor = "package.json, deno.json, requirements.txt/pyproject.toml/Pipfile/*.py, go.mod/*.go, Gemfile, composer.json/index.php, " +
	"pom.xml/build.gradle, project.clj/deps.edn, build.sbt, Cargo.toml, *.csproj/*.fsproj, mix.exs, gleam.toml, pubspec.yaml, shard.yml, " +
	"Package.swift, build.zig, stack.yaml, *.cbl, CMakeLists.txt/meson.build, Staticfile/index.html, start.sh, Dockerfile, compose.yaml"

func detectApp(a *app, env map[string]string) (*Plan, error) {
	for _, d := range detectors {
		p, ok, err := d.detect(a, env)
		if ok {
			return p, err
		}
	}
	where := a.prefix
	if where == "" {
		where = "the repository root"
	}
	return nil, fmt.Errorf("%w in %s: looked for %s", ErrNotDetected, where, lookedFor)
}

// candidateManifests mark an app directory in a monorepo.
var candidateManifests = []string{"package.json", "go.mod", "requirements.txt", "pyproject.toml", "Gemfile", "composer.json",
	"pom.xml", "build.gradle", "build.gradle.kts", "Cargo.toml", "mix.exs", "deno.json", "Dockerfile"}

// findCandidates lists directories one or two levels down that hold an app manifest.
func findCandidates(r *repo) []string {
	set := map[string]bool{}
	for rel, e := range r.entries {
		if e.dir || strings.Count(rel, "/") < 1 || strings.Count(rel, "/") > 2 {
			continue
		}
		base := path.Base(rel)
		for _, m := range candidateManifests {
			if base == m {
				set[path.Dir(rel)] = true
			}
		}
	}
	out := sortedKeys(set)
	// Prefer the shallowest: drop a candidate nested in another.
	var res []string
	for _, c := range out {
		nested := false
		for _, o := range out {
			if o != c && strings.HasPrefix(c, o+"/") {
				nested = true
			}
		}
		if !nested {
			res = append(res, c)
		}
	}
	return res
}

// detectNodeOrPython resolves repositories with both package.json and Python manifests: Node wins
// when package.json can start the app (a start script, main or index file), else Python.
func detectNodeOrPython(a *app, env map[string]string) (*Plan, bool, error) {
	np, nok, nerr := detectNode(a, env)
	if !nok {
		return detectPython(a, env)
	}
	if isPython(a) && (a.has("requirements.txt") || a.has("pyproject.toml") || a.has("Pipfile")) && np.StartCmd == nil {
		if pp, pok, perr := detectPython(a, env); pok && perr == nil {
			return pp, true, nil
		}
	}
	return np, true, nerr
}

func detectPHP(a *app, env map[string]string) (*Plan, bool, error) {
	if !a.has("composer.json") && !a.has("index.php") {
		return nil, false, nil
	}
	p := &Plan{Provider: "php", Language: "php", Port: ptr(80)}
	var c *composerJSON
	if b, ok := a.read("composer.json"); ok {
		var err error
		if c, err = parseComposer(b); err != nil {
			a.warn("%s: %v", a.rel("composer.json"), err)
		}
		p.PackageManager = ptr("composer")
		p.PackageManagerVersionSource = ptr("default")
		p.InstallCmds = []string{"composer install --ignore-platform-reqs --no-dev --optimize-autoloader"}
	}
	req := ""
	if c != nil {
		req = cleanVersion(c.Require["php"])
		if _, ok := c.Require["laravel/framework"]; ok || a.has("artisan") {
			p.Framework = ptr("laravel")
		}
	}
	tv, tvSrc := toolVersion(a, "php")
	setVersion(p, "php", vs(tv, tvSrc), vs(req, "composer.json require.php"))
	if b, ok := a.read("package.json"); ok {
		if pkg, err := parsePackageJSON(b); err == nil {
			pm := "npm"
			switch {
			case a.has("pnpm-lock.yaml"):
				pm = "pnpm"
			case a.has("yarn.lock"):
				pm = "yarn"
			case a.has("bun.lockb"), a.has("bun.lock"):
				pm = "bun"
			}
			inst := pm + " install"
			if pm == "npm" && a.has("package-lock.json") {
				inst = "npm ci"
			}
			p.InstallCmds = append(p.InstallCmds, inst)
			if _, ok := pkg.Scripts["build"]; ok {
				p.BuildCmds = []string{pm + " run build"}
			}
		}
	}
	conf := "/assets/nginx.template.conf"
	if a.has("nginx.template.conf") {
		conf = "/app/nginx.template.conf"
	}
	p.StartCmd = ptr("node /assets/scripts/prestart.mjs " + conf + " /nginx.conf && (php-fpm -y /assets/php-fpm.conf & nginx -c /nginx.conf)")
	return p, true, nil
}

var goPackageMain = regexp.MustCompile(`(?m)^\s*package\s+main\b`)

func detectGo(a *app, env map[string]string) (*Plan, bool, error) {
	hasMod, hasWork := a.has("go.mod"), a.has("go.work")
	rootGo := a.rootFilesWithExt(".go")
	if !hasMod && !hasWork && len(rootGo) == 0 {
		return nil, false, nil
	}
	p := &Plan{Provider: "go", Language: "go"}
	modVer, toolchain := "", ""
	if b, ok := a.read("go.mod"); ok {
		if m, err := parseGoMod(b); err != nil {
			a.warn("%s: %v", a.rel("go.mod"), err)
		} else {
			modVer, toolchain = m.Go, m.Toolchain
		}
	}
	tv, tvSrc := toolVersion(a, "go", "golang")
	setVersion(p, "go", vs(tv, tvSrc), vs(cleanVersion(modVer), "go.mod go directive"), vs(cleanVersion(toolchain), "go.mod toolchain"))
	switch {
	case hasMod || hasWork:
		p.PackageManager = ptr("gomod")
		p.InstallCmds = []string{"go mod download"}
	default:
		p.PackageManager = ptr("gopath")
	}
	p.PackageManagerVersionSource = ptr("default")
	// The package to build: the root if it holds Go files, else the only main package found.
	pkg := "."
	if len(rootGo) == 0 {
		var mains []string
		seen := map[string]bool{}
		// Only main.go files and the files of cmd/<name>/ directories are read, never the whole tree.
		isCandidate := func(rel string) bool {
			if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
				return false
			}
			d := path.Dir(rel)
			return path.Base(rel) == "main.go" || path.Base(path.Dir(d)) == "cmd" || d == "cmd"
		}
		for _, f := range a.files(isCandidate) {
			d := path.Dir(f)
			if seen[d] || strings.HasPrefix(d, "vendor/") {
				continue
			}
			content := a.readString(f)
			if goPackageMain.MatchString(content) || (content == "" && (path.Base(f) == "main.go")) {
				seen[d] = true
				mains = append(mains, d)
			}
		}
		sort.Strings(mains)
		switch {
		case len(mains) == 1 || (hasWork && len(mains) > 0):
			pkg = "./" + mains[0]
		case len(mains) > 1:
			return p, true, fmt.Errorf("%w: several Go main packages (%s); set start_cmd or app_dir in runyard.toml", ErrNoStartCommand, strings.Join(mains, ", "))
		default:
			return p, true, fmt.Errorf("%w: no Go files in the app root and no main package found", ErrNoStartCommand)
		}
	}
	build := "go build -o out"
	if pkg != "." {
		build += " " + pkg
	}
	p.BuildCmds = []string{build}
	p.StartCmd = ptr("./out")
	if a.has("go.mod") {
		if b, ok := a.read("go.mod"); ok && strings.Contains(string(b), "github.com/gin-gonic/gin") {
			p.Framework = ptr("gin")
		}
	}
	return p, true, nil
}

func jdkVersion(a *app, found ...[2]string) [2]string {
	if v := versionFile(a, ".java-version"); v != "" {
		return vs(v, ".java-version")
	}
	if v := versionFile(a, ".jdk-version"); v != "" {
		return vs(v, ".jdk-version")
	}
	if b, ok := a.read("system.properties"); ok {
		if m := regexp.MustCompile(`java\.runtime\.version\s*=\s*(\S+)`).FindStringSubmatch(string(b)); m != nil {
			return vs(cleanVersion(m[1]), "system.properties")
		}
	}
	if v, src := toolVersion(a, "java"); v != "" {
		return vs(v, src)
	}
	for _, f := range found {
		if f[0] != "" {
			return f
		}
	}
	return vs("", "")
}

func detectClojure(a *app, env map[string]string) (*Plan, bool, error) {
	if !a.has("project.clj") && !a.has("deps.edn") {
		return nil, false, nil
	}
	p := &Plan{Provider: "clojure", Language: "clojure"}
	setVersion(p, "clojure", jdkVersion(a))
	move := `; if [ -d /app/target/default+uberjar ]; then find /app/target/default+uberjar -name "*.jar" -exec mv -t /app/target/ {} +; fi`
	switch {
	case a.has("project.clj"):
		p.PackageManager = ptr("leiningen")
		if strings.Contains(a.readString("project.clj"), "lein-ring") {
			p.BuildCmds = []string{"lein ring uberjar" + move}
		} else {
			p.BuildCmds = []string{"lein uberjar" + move}
		}
	default:
		p.PackageManager = ptr("clojure")
		p.BuildCmds = []string{"clojure -T:build uber" + move}
	}
	p.StartCmd = ptr(`JAR_FILE=$(find /app/target -name "*-standalone.jar" -o -name "*.jar" ! -name "*-SNAPSHOT.jar" | head -n 1) && bash -c "java $JAVA_OPTS -jar $JAR_FILE"`)
	return p, true, nil
}

func detectScala(a *app, env map[string]string) (*Plan, bool, error) {
	if !a.has("build.sbt") {
		return nil, false, nil
	}
	p := &Plan{Provider: "scala", Language: "scala", PackageManager: ptr("sbt")}
	setVersion(p, "java", jdkVersion(a))
	p.BuildCmds = []string{"sbt stage"}
	name := "main"
	if m := regexp.MustCompile(`(?m)^\s*(?:executableScriptName|packageName)\s*:=\s*"([^"]+)"`).FindStringSubmatch(a.readString("build.sbt")); m != nil {
		name = m[1]
	}
	p.StartCmd = ptr("./target/universal/stage/bin/" + name)
	return p, true, nil
}

var gradleJava = regexp.MustCompile(`(?:sourceCompatibility\s*=\s*['"]?(?:JavaVersion\.VERSION_)?|languageVersion(?:\.set\()?\s*=?\s*JavaLanguageVersion\.of\()(\d+(?:[._]\d+)?)`)

func detectJava(a *app, env map[string]string) (*Plan, bool, error) {
	pomName := ""
	for _, n := range []string{"pom.xml", "pom.atom", "pom.clj", "pom.groovy", "pom.rb", "pom.scala", "pom.yaml", "pom.yml", "pom.kts"} {
		if a.has(n) {
			pomName = n
			break
		}
	}
	gradle := a.has("build.gradle") || a.has("build.gradle.kts") || a.has("gradlew") || a.has("settings.gradle") || a.has("settings.gradle.kts")
	jar := len(a.rootFilesWithExt(".jar")) > 0 || a.has("META-INF/MANIFEST.MF") || len(a.rootFilesWithExt(".war")) > 0
	if pomName == "" && !gradle && !jar {
		return nil, false, nil
	}
	p := &Plan{Provider: "java", Language: "java"}
	switch {
	case pomName != "":
		p.PackageManager = ptr("maven")
		var pom *pomXML
		if pomName == "pom.xml" {
			if b, ok := a.read("pom.xml"); ok {
				var err error
				if pom, err = parsePom(b); err != nil {
					a.warn("%s: %v", a.rel("pom.xml"), err)
				}
			}
		}
		ver := ""
		spring := false
		if pom != nil {
			ver = pom.JavaVersion
			spring = strings.HasPrefix(pom.Parent, "spring-boot")
			for _, d := range pom.Dependencies {
				if strings.HasPrefix(d, "spring-boot") {
					spring = true
				}
			}
		}
		if spring {
			p.Framework = ptr("spring-boot")
		}
		setVersion(p, "java", jdkVersion(a, vs(cleanVersion(ver), "pom.xml")))
		mvn := "mvn"
		if a.has("mvnw") {
			mvn = "./mvnw"
		}
		p.BuildCmds = []string{mvn + " -DoutputFile=target/mvn-dependency-list.log -B -DskipTests clean dependency:list install"}
		p.StartCmd = ptr("java -Dserver.port=$PORT $JAVA_OPTS -jar target/*jar")
	case gradle:
		p.PackageManager = ptr("gradle")
		src := a.readString("build.gradle") + a.readString("build.gradle.kts")
		ver := ""
		if m := gradleJava.FindStringSubmatch(src); m != nil {
			ver = strings.ReplaceAll(m[1], "_", ".")
			ver = strings.TrimPrefix(ver, "1.")
		}
		setVersion(p, "java", jdkVersion(a, vs(ver, "build.gradle")))
		g := "gradle"
		if a.has("gradlew") {
			g = "./gradlew"
		}
		p.BuildCmds = []string{g + " clean build -x check -x test"}
		libs := "build/libs/*jar"
		if src == "" {
			// A multi-project build: the application is a subproject.
			libs = "*/build/libs/*jar"
			for _, n := range a.list("") {
				if a.has(n+"/build.gradle") || a.has(n+"/build.gradle.kts") {
					src += a.readString(n+"/build.gradle") + a.readString(n+"/build.gradle.kts")
				}
			}
		}
		if strings.Contains(src, "org.springframework.boot") {
			p.Framework = ptr("spring-boot")
			p.StartCmd = ptr("java $JAVA_OPTS -jar -Dserver.port=$PORT $(ls -1 " + libs + " | grep -v plain)")
		} else {
			p.StartCmd = ptr("java $JAVA_OPTS -jar  $(ls -1 " + libs + " | grep -v plain)")
		}
	default:
		setVersion(p, "java", jdkVersion(a))
		jars := a.rootFilesWithExt(".jar")
		if len(jars) == 1 {
			p.StartCmd = ptr("java $JAVA_OPTS -jar " + jars[0])
		} else if mf := a.readString("META-INF/MANIFEST.MF"); mf != "" || a.has("META-INF/MANIFEST.MF") {
			main := ""
			if m := regexp.MustCompile(`(?m)^Main-Class:\s*(\S+)`).FindStringSubmatch(mf); m != nil {
				main = m[1]
			}
			if main != "" {
				p.StartCmd = ptr("java $JAVA_OPTS -cp . " + main)
			} else {
				p.StartCmd = ptr("java $JAVA_OPTS -cp . -jar .")
			}
		} else {
			return p, true, fmt.Errorf("%w: several jar files and no build file; set start_cmd in runyard.toml", ErrNoStartCommand)
		}
	}
	return p, true, nil
}

func detectRust(a *app, env map[string]string) (*Plan, bool, error) {
	b, ok := a.read("Cargo.toml")
	if !ok {
		return nil, false, nil
	}
	p := &Plan{Provider: "rust", Language: "rust", PackageManager: ptr("cargo")}
	type cargo struct {
		Package struct {
			Name        string `toml:"name"`
			RustVersion string `toml:"rust-version"`
			DefaultRun  string `toml:"default-run"`
		} `toml:"package"`
		Bin []struct {
			Name string `toml:"name"`
		} `toml:"bin"`
		Workspace struct {
			Members []string `toml:"members"`
		} `toml:"workspace"`
	}
	var c cargo
	if _, err := toml.Decode(string(b), &c); err != nil {
		a.warn("%s: %v", a.rel("Cargo.toml"), err)
	}
	toolchain := ""
	if tb, ok := a.read("rust-toolchain.toml"); ok {
		var t struct {
			Toolchain struct {
				Channel string `toml:"channel"`
			} `toml:"toolchain"`
		}
		if _, err := toml.Decode(string(tb), &t); err == nil {
			toolchain = cleanVersion(t.Toolchain.Channel)
		}
	} else {
		toolchain = versionFile(a, "rust-toolchain")
	}
	tv, tvSrc := toolVersion(a, "rust")
	setVersion(p, "rust", vs(toolchain, "rust-toolchain"), vs(tv, tvSrc), vs(cleanVersion(c.Package.RustVersion), "Cargo.toml rust-version"))
	name, pkgFlag := c.Package.Name, ""
	if name == "" && len(c.Workspace.Members) > 0 {
		// A workspace: the first member with a binary target (member globs expanded one level).
		var members []string
		for _, m := range c.Workspace.Members {
			dir, last := path.Split(strings.TrimSuffix(m, "/"))
			if !strings.ContainsAny(last, "*?[") {
				members = append(members, m)
				continue
			}
			for _, n := range a.list(strings.TrimSuffix(dir, "/")) {
				if ok, _ := path.Match(last, n); ok && a.has(path.Join(dir, n, "Cargo.toml")) {
					members = append(members, path.Join(dir, n))
				}
			}
		}
		for _, m := range members {
			mb, ok := a.read(path.Join(m, "Cargo.toml"))
			if !ok {
				continue
			}
			var mc cargo
			if _, err := toml.Decode(string(mb), &mc); err != nil {
				continue
			}
			if a.has(path.Join(m, "src/main.rs")) || len(mc.Bin) > 0 || !a.has(path.Join(m, "src/lib.rs")) && !strings.Contains(m, "lib") {
				name, pkgFlag = mc.Package.Name, " --package "+mc.Package.Name
				break
			}
		}
	}
	if name == "" {
		return p, true, fmt.Errorf("%w: no Rust binary package found", ErrNoStartCommand)
	}
	bins := []string{name}
	for _, bn := range c.Bin {
		if bn.Name != "" && !slices.Contains(bins, bn.Name) {
			bins = append(bins, bn.Name)
		}
	}
	for _, f := range a.files(func(rel string) bool {
		return strings.HasPrefix(rel, "src/bin/") && strings.HasSuffix(rel, ".rs") && strings.Count(rel, "/") == 2
	}) {
		if bn := strings.TrimSuffix(path.Base(f), ".rs"); !slices.Contains(bins, bn) {
			bins = append(bins, bn)
		}
	}
	if c.Package.DefaultRun != "" {
		name = c.Package.DefaultRun
	}
	p.BuildCmds = []string{"mkdir -p bin", "cargo build --release" + pkgFlag}
	for _, bn := range bins {
		p.BuildCmds = append(p.BuildCmds, "cp target/release/"+bn+" bin")
	}
	p.StartCmd = ptr("./bin/" + name)
	return p, true, nil
}

func detectRuby(a *app, env map[string]string) (*Plan, bool, error) {
	if !a.has("Gemfile") {
		return nil, false, nil
	}
	p := &Plan{Provider: "ruby", Language: "ruby", PackageManager: ptr("bundler"), PackageManagerVersionSource: ptr("default")}
	g := &gemfile{Gems: map[string]bool{}}
	if b, ok := a.read("Gemfile"); ok {
		var err error
		if g, err = parseGemfile(b); err != nil {
			a.warn("%v", err)
		}
	}
	tv, tvSrc := toolVersion(a, "ruby")
	setVersion(p, "ruby", vs(versionFile(a, ".ruby-version"), ".ruby-version"), vs(tv, tvSrc), vs(cleanVersion(g.Ruby), "Gemfile ruby"))
	p.InstallCmds = []string{"bundle install"}
	switch {
	case g.Gems["rails"] || a.has("config/application.rb") && strings.Contains(a.readString("config/application.rb"), "Rails::Application"):
		p.Framework = ptr("rails")
		p.BuildCmds = []string{"bundle exec rake assets:precompile"}
		p.StartCmd = ptr("bundle exec rails server -b 0.0.0.0 -p ${PORT:-3000}")
		p.Port = ptr(3000)
	case a.has("config.ru"):
		if g.Gems["sinatra"] {
			p.Framework = ptr("sinatra")
		}
		p.StartCmd = ptr("bundle exec rackup config.ru -o 0.0.0.0 -p ${PORT:-3000}")
		p.Port = ptr(3000)
	default:
		return p, true, fmt.Errorf("%w: for Ruby, add a config.ru (Rack) or set start_cmd in runyard.toml", ErrNoStartCommand)
	}
	return p, true, nil
}

func detectElixir(a *app, env map[string]string) (*Plan, bool, error) {
	b, ok := a.read("mix.exs")
	if !ok {
		return nil, false, nil
	}
	p := &Plan{Provider: "elixir", Language: "elixir", PackageManager: ptr("mix")}
	src := string(b)
	ver := ""
	if m := regexp.MustCompile(`elixir:\s*"([^"]+)"`).FindStringSubmatch(src); m != nil {
		ver = cleanVersion(m[1])
	}
	tv, tvSrc := toolVersion(a, "elixir")
	setVersion(p, "elixir", vs(versionFile(a, ".elixir-version"), ".elixir-version"), vs(tv, tvSrc), vs(ver, "mix.exs"))
	p.InstallCmds = []string{"mix local.hex --force", "mix local.rebar --force", "mix deps.get --only prod"}
	if strings.Contains(src, ":phoenix") {
		p.Framework = ptr("phoenix")
		p.BuildCmds = []string{"mix compile"}
		if strings.Contains(src, "assets.deploy") {
			p.BuildCmds = append(p.BuildCmds, "mix assets.deploy")
		}
		if strings.Contains(src, "ecto.setup") {
			p.BuildCmds = append(p.BuildCmds, "mix ecto.setup")
		}
		p.StartCmd = ptr("mix phx.server")
		p.Port = ptr(4000)
		return p, true, nil
	}
	name := ""
	if m := regexp.MustCompile(`app:\s*:(\w+)`).FindStringSubmatch(src); m != nil {
		name = m[1]
	}
	if name == "" {
		return p, true, fmt.Errorf("%w: mix.exs names no app", ErrNoStartCommand)
	}
	p.BuildCmds = []string{"mix compile", "mix release"}
	p.StartCmd = ptr("/app/_build/prod/rel/" + name + "/bin/" + name + " start")
	p.Port = ptr(4000)
	return p, true, nil
}

func detectGleam(a *app, env map[string]string) (*Plan, bool, error) {
	if !a.has("gleam.toml") {
		return nil, false, nil
	}
	p := &Plan{Provider: "gleam", Language: "gleam"}
	tv, tvSrc := toolVersion(a, "gleam")
	setVersion(p, "gleam", vs(tv, tvSrc))
	p.BuildCmds = []string{"gleam export erlang-shipment"}
	p.StartCmd = ptr("./build/erlang-shipment/entrypoint.sh run")
	return p, true, nil
}

var denoLandImport = regexp.MustCompile(`https://deno\.land/`)

func detectDeno(a *app, env map[string]string) (*Plan, bool, error) {
	cfgName := ""
	for _, n := range []string{"deno.json", "deno.jsonc"} {
		if a.has(n) {
			cfgName = n
		}
	}
	entries := []string{"main.ts", "main.js", "mod.ts", "index.ts", "index.js", "src/index.ts", "src/main.ts", "server.ts"}
	if cfgName == "" {
		if a.has("package.json") {
			return nil, false, nil
		}
		found := false
		for _, e := range entries {
			if a.has(e) && denoLandImport.MatchString(a.readString(e)) {
				found = true
				break
			}
		}
		if !found {
			return nil, false, nil
		}
	}
	p := &Plan{Provider: "deno", Language: "javascript"}
	tv, tvSrc := toolVersion(a, "deno")
	setVersion(p, "deno", vs(versionFile(a, ".deno-version"), ".deno-version"), vs(tv, tvSrc))
	cfg := stripJSONComments(a.readString(cfgName))
	if m := regexp.MustCompile(`"start"\s*:\s*"([^"]+)"`).FindStringSubmatch(cfg); m != nil && strings.Contains(cfg, `"tasks"`) {
		p.StartCmd = ptr(m[1])
		return p, true, nil
	}
	for _, e := range entries {
		if a.has(e) {
			p.BuildCmds = []string{"deno cache " + e}
			p.StartCmd = ptr("deno run --allow-all " + e)
			return p, true, nil
		}
	}
	return p, true, fmt.Errorf("%w: no Deno entry file (main.ts, mod.ts, index.ts) and no start task", ErrNoStartCommand)
}

// stripJSONComments removes // line comments (JSONC) well enough for regex scanning.
func stripJSONComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "//") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

var targetFramework = regexp.MustCompile(`<TargetFrameworks?>\s*net(?:coreapp)?(\d+\.\d+)`)

func detectDotnet(a *app, env map[string]string) (*Plan, bool, error) {
	projs := append(a.rootFilesWithExt(".csproj"), a.rootFilesWithExt(".fsproj")...)
	projs = append(projs, a.rootFilesWithExt(".vbproj")...)
	if len(projs) == 0 {
		return nil, false, nil
	}
	sort.Strings(projs)
	proj := projs[0]
	lang := "csharp"
	if strings.HasSuffix(proj, ".fsproj") {
		lang = "fsharp"
	}
	p := &Plan{Provider: "dotnet", Language: lang, PackageManager: ptr("nuget")}
	src := a.readString(proj)
	tf := ""
	if m := targetFramework.FindStringSubmatch(src); m != nil {
		tf = m[1]
	}
	gj := ""
	if m := regexp.MustCompile(`"version"\s*:\s*"([^"]+)"`).FindStringSubmatch(a.readString("global.json")); m != nil {
		gj = cleanVersion(m[1])
	}
	setVersion(p, "dotnet", vs(tf, proj+" TargetFramework"), vs(gj, "global.json"))
	name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(proj, ".csproj"), ".fsproj"), ".vbproj")
	if m := regexp.MustCompile(`<AssemblyName>\s*([^<\s]+)\s*</AssemblyName>`).FindStringSubmatch(src); m != nil {
		name = m[1]
	}
	p.InstallCmds = []string{"dotnet restore"}
	p.BuildCmds = []string{"dotnet publish --no-restore -c Release -o out"}
	p.StartCmd = ptr("ASPNETCORE_URLS=http://0.0.0.0:${PORT:-3000} ./out/" + name)
	p.Port = ptr(3000)
	if strings.Contains(src, "Microsoft.NET.Sdk.Web") {
		p.Framework = ptr("aspnetcore")
	}
	return p, true, nil
}

var yamlName = regexp.MustCompile(`(?m)^name:\s*["']?([\w.-]+)`)

func detectDart(a *app, env map[string]string) (*Plan, bool, error) {
	b, ok := a.read("pubspec.yaml")
	if !ok {
		return nil, false, nil
	}
	p := &Plan{Provider: "dart", Language: "dart", PackageManager: ptr("pub")}
	setVersion(p, "dart")
	p.InstallCmds = []string{"dart pub get"}
	name := ""
	if m := yamlName.FindStringSubmatch(string(b)); m != nil {
		name = m[1]
	}
	entry := ""
	for _, e := range []string{"bin/" + name + ".dart", "bin/server.dart", "bin/main.dart"} {
		if a.has(e) {
			entry = e
			break
		}
	}
	if entry == "" {
		if strings.Contains(string(b), "flutter") {
			p.Framework = ptr("flutter")
			p.BuildCmds = []string{"flutter build web"}
			p.StaticRoot = ptr("build/web")
			p.StartCmd = ptr(staticStartCmd)
			return p, true, nil
		}
		return p, true, fmt.Errorf("%w: no bin/%s.dart or bin/server.dart", ErrNoStartCommand, name)
	}
	exe := strings.TrimSuffix(entry, ".dart") + ".exe"
	p.BuildCmds = []string{"dart compile exe " + entry}
	p.StartCmd = ptr("./" + exe)
	return p, true, nil
}

func detectCrystal(a *app, env map[string]string) (*Plan, bool, error) {
	b, ok := a.read("shard.yml")
	if !ok {
		return nil, false, nil
	}
	p := &Plan{Provider: "crystal", Language: "crystal", PackageManager: ptr("shards")}
	setVersion(p, "crystal")
	p.InstallCmds = []string{"shards install"}
	p.BuildCmds = []string{"shards build --release"}
	name := ""
	if m := regexp.MustCompile(`(?m)^targets:\s*\n\s+([\w-]+):`).FindStringSubmatch(string(b)); m != nil {
		name = m[1]
	} else if m := yamlName.FindStringSubmatch(string(b)); m != nil {
		name = m[1]
	}
	p.StartCmd = ptr("./bin/" + name)
	return p, true, nil
}

func detectSwift(a *app, env map[string]string) (*Plan, bool, error) {
	b, ok := a.read("Package.swift")
	if !ok {
		return nil, false, nil
	}
	p := &Plan{Provider: "swift", Language: "swift", PackageManager: ptr("swiftpm")}
	setVersion(p, "swift", vs(versionFile(a, ".swift-version"), ".swift-version"))
	src := string(b)
	name := ""
	for _, re := range []string{`\.executableTarget\(\s*name:\s*"([^"]+)"`, `\.executable\(\s*name:\s*"([^"]+)"`, `name:\s*"([^"]+)"`} {
		if m := regexp.MustCompile(re).FindStringSubmatch(src); m != nil {
			name = m[1]
			break
		}
	}
	if name == "" {
		return p, true, fmt.Errorf("%w: Package.swift names no executable", ErrNoStartCommand)
	}
	p.BuildCmds = []string{"CC=clang++ swift build -c release --static-swift-stdlib && cp ./.build/release/" + name + " ./" + name + " && rm -rf ./.build"}
	p.StartCmd = ptr("./" + name)
	return p, true, nil
}

func detectZig(a *app, env map[string]string) (*Plan, bool, error) {
	b, ok := a.read("build.zig")
	if !ok {
		return nil, false, nil
	}
	p := &Plan{Provider: "zig", Language: "zig"}
	setVersion(p, "zig")
	name := path.Base(a.root)
	if a.prefix != "" {
		name = path.Base(a.prefix)
	}
	if m := regexp.MustCompile(`\.name\s*=\s*"([^"]+)"`).FindStringSubmatch(string(b)); m != nil {
		name = m[1]
	}
	p.BuildCmds = []string{"zig build -Doptimize=ReleaseSafe"}
	p.StartCmd = ptr("./zig-out/bin/" + name)
	return p, true, nil
}

func detectHaskell(a *app, env map[string]string) (*Plan, bool, error) {
	cabal := a.rootFilesWithExt(".cabal")
	if !a.has("stack.yaml") && len(cabal) == 0 && !a.has("package.yaml") {
		return nil, false, nil
	}
	p := &Plan{Provider: "haskell", Language: "haskell", PackageManager: ptr("stack")}
	setVersion(p, "haskell")
	p.BuildCmds = []string{"stack install"}
	exe := ""
	if m := regexp.MustCompile(`(?m)^executables:\s*\n\s+([\w-]+):`).FindStringSubmatch(a.readString("package.yaml")); m != nil {
		exe = m[1]
	} else if len(cabal) > 0 {
		if m := regexp.MustCompile(`(?m)^executable\s+([\w-]+)`).FindStringSubmatch(a.readString(cabal[0])); m != nil {
			exe = m[1]
		}
	}
	if exe == "" {
		return p, true, fmt.Errorf("%w: no Haskell executable declared", ErrNoStartCommand)
	}
	p.StartCmd = ptr("/root/.local/bin/" + exe)
	return p, true, nil
}

func detectCobol(a *app, env map[string]string) (*Plan, bool, error) {
	cbl := a.files(func(rel string) bool {
		return strings.HasSuffix(strings.ToLower(rel), ".cbl") && strings.Count(rel, "/") <= 1
	})
	if len(cbl) == 0 {
		return nil, false, nil
	}
	p := &Plan{Provider: "cobol", Language: "cobol"}
	src := ""
	for _, c := range []string{"index.cbl", "src/index.cbl"} {
		if a.has(c) {
			src = c
			break
		}
	}
	if src == "" {
		src = cbl[0]
	}
	name := strings.TrimSuffix(path.Base(src), path.Ext(src))
	p.BuildCmds = []string{"cobc -x -o " + name + " " + src}
	p.StartCmd = ptr("./" + name)
	return p, true, nil
}

func detectScheme(a *app, env map[string]string) (*Plan, bool, error) {
	if !a.has("haunt.scm") && !a.has("init.scm") {
		return nil, false, nil
	}
	p := &Plan{Provider: "scheme", Language: "scheme"}
	if a.has("haunt.scm") {
		p.BuildCmds = []string{"haunt build"}
	}
	if !a.has("init.scm") {
		return p, true, fmt.Errorf("%w: no init.scm", ErrNoStartCommand)
	}
	p.StartCmd = ptr("guile init.scm --auto-compile")
	return p, true, nil
}

func detectCpp(a *app, env map[string]string) (*Plan, bool, error) {
	cmake, meson := a.has("CMakeLists.txt"), a.has("meson.build")
	if !cmake && !meson {
		return nil, false, nil
	}
	p := &Plan{Provider: "cpp", Language: "cpp"}
	if cmake {
		p.BuildCmds = []string{"mkdir /build", "cmake -B /build -GNinja /app", "cmake --build /build"}
	} else {
		p.BuildCmds = []string{"mkdir /build", "meson setup /build", "meson compile -C /build"}
	}
	name := path.Base(a.root)
	if a.prefix != "" {
		name = path.Base(a.prefix)
	}
	p.StartCmd = ptr("/build/" + name)
	return p, true, nil
}

func detectStatic(a *app, env map[string]string) (*Plan, bool, error) {
	root := ""
	switch {
	case a.has("Staticfile"):
		root = "."
		if m := regexp.MustCompile(`(?m)^root:\s*(\S+)`).FindStringSubmatch(a.readString("Staticfile")); m != nil {
			root = m[1]
		}
	case a.has("index.html"):
		root = "."
	case a.has("public/index.html"):
		root = "public"
	case a.has("dist/index.html"):
		root = "dist"
	default:
		return nil, false, nil
	}
	p := &Plan{Provider: "staticfile", Language: "static", StaticRoot: ptr(root), Port: ptr(80)}
	// A plain static site gets its Caddyfile generated into the app directory.
	p.BuildCmds = []string{"caddy fmt --overwrite Caddyfile"}
	p.StartCmd = ptr("caddy run --config Caddyfile --adapter caddyfile 2>&1")
	return p, true, nil
}

func detectShell(a *app, env map[string]string) (*Plan, bool, error) {
	script := ""
	for _, s := range []string{"start.sh", "run.sh"} {
		if a.has(s) {
			script = s
			break
		}
	}
	if script == "" {
		return nil, false, nil
	}
	p := &Plan{Provider: "shell", Language: "shell"}
	interp := "sh"
	if line := a.firstLine(script); strings.HasPrefix(line, "#!") {
		f := strings.Fields(strings.TrimPrefix(line, "#!"))
		if len(f) > 0 {
			interp = path.Base(f[0])
			if interp == "env" && len(f) > 1 {
				interp = f[1]
			}
		}
	}
	p.BuildCmds = []string{"chmod +x " + script}
	p.StartCmd = ptr(interp + " " + script)
	return p, true, nil
}
