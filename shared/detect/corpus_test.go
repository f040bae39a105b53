package detect_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/runyard/runyard/shared/detect"
)

// The corpus: expected results of stack detection from the test suites of Nixpacks, Railpack and
// Google Cloud buildpacks (see testdata/README of /work/shared/corpus/detect, summarized in README.md).

type expect struct {
	Provider       *string  `json:"provider"`
	Language       *string  `json:"language"`
	Framework      *string  `json:"framework"`
	PackageManager *string  `json:"package_manager"`
	InstallCmd     *string  `json:"install_cmd"`
	InstallCmds    []string `json:"install_cmds"`
	BuildCmd       *string  `json:"build_cmd"`
	BuildCmds      []string `json:"build_cmds"`
	StartCmd       *string  `json:"start_cmd"`
	RuntimeVersion *string  `json:"runtime_version"`
	Port           *int     `json:"port"`
	StaticRoot     *string  `json:"static_root"`
	ExpectFailure  bool     `json:"expect_failure"`
}

type corpusCase struct {
	ID              string             `json:"id"`
	Anchor          string             `json:"anchor"`
	Example         string             `json:"example"`
	Expect          expect             `json:"expect"`
	Env             map[string]string  `json:"env"`
	ConfigOverrides []string           `json:"config_overrides"`
	OtherInputs     map[string]any     `json:"other_inputs"`
	Derived         []string           `json:"derived"`
	Platform        string             `json:"platform"`
	Files           map[string]*string `json:"files"` // nil value = empty file
	Dirs            []string           `json:"dirs"`
	Executable      []string           `json:"executable"`
	Snippets        map[string]string  `json:"snippets"`
}

var loadCorpus = sync.OnceValues(func() ([]corpusCase, error) {
	f, err := os.Open(filepath.Join("testdata", "cases.json.gz"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Cases []corpusCase `json:"cases"`
	}
	if err := json.NewDecoder(zr).Decode(&doc); err != nil {
		return nil, err
	}
	return doc.Cases, nil
})

func corpus(tb testing.TB) []corpusCase {
	tb.Helper()
	cs, err := loadCorpus()
	if err != nil {
		tb.Fatalf("load corpus: %v", err)
	}
	return cs
}

// inPlatform: generic builders only (gcp "gcp" platform; nixpacks and railpack have none).
func inPlatform(c corpusCase) bool { return c.Platform == "" || c.Platform == "gcp" }

// pure: no env, config overrides or other inputs (the autodetection subset).
func pure(c corpusCase) bool {
	return inPlatform(c) && len(c.Env) == 0 && len(c.ConfigOverrides) == 0 && len(c.OtherInputs) == 0
}

// materialize writes the case's tree under parent and returns the app directory.
func materialize(tb testing.TB, parent string, c corpusCase) string {
	tb.Helper()
	root := filepath.Join(parent, filepath.Base(filepath.FromSlash(c.Example)))
	if err := os.MkdirAll(root, 0o755); err != nil {
		tb.Fatal(err)
	}
	for _, d := range c.Dirs {
		if !filepath.IsLocal(d) {
			tb.Fatalf("%s: bad dir %q", c.ID, d)
		}
		if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(d)), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	exec := make(map[string]bool, len(c.Executable))
	for _, p := range c.Executable {
		exec[p] = true
	}
	for rel, content := range c.Files {
		if !filepath.IsLocal(rel) {
			tb.Fatalf("%s: bad path %q", c.ID, rel)
		}
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		var data []byte
		if content != nil {
			data = []byte(*content)
		} else if s, ok := c.Snippets[rel]; ok {
			data = []byte(s)
		}
		mode := os.FileMode(0o644)
		if exec[rel] {
			mode = 0o755
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}

// tally counts agreements for one (subset, anchor, metric).
type tally struct{ ok, n int }

func (t tally) pct() float64 {
	if t.n == 0 {
		return 100
	}
	return 100 * float64(t.ok) / float64(t.n)
}

func (t tally) String() string {
	if t.n == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d (%.1f%%)", t.ok, t.n, t.pct())
}

var metrics = []string{"language", "start_cmd", "start_cmd_ws", "install_cmds", "install_soft", "build_cmds", "build_soft",
	"runtime_version", "package_manager", "framework", "port", "static_root", "expect_failure"}

var anchors = []string{"nixpacks", "railpack", "gcp-buildpacks"}

type score map[string]map[string]*tally // anchor -> metric -> tally ("all" anchor sums)

func (s score) add(anchor, metric string, ok bool) {
	for _, a := range []string{anchor, "all"} {
		if s[a] == nil {
			s[a] = map[string]*tally{}
		}
		t := s[a][metric]
		if t == nil {
			t = &tally{}
			s[a][metric] = t
		}
		t.n++
		if ok {
			t.ok++
		}
	}
}

func (s score) get(anchor, metric string) tally {
	if t := s[anchor][metric]; t != nil {
		return *t
	}
	return tally{}
}

func (s score) table() string {
	var b strings.Builder
	b.WriteString("| metric | nixpacks | railpack | gcp-buildpacks | all |\n|---|---|---|---|---|\n")
	for _, m := range metrics {
		fmt.Fprintf(&b, "| %s |", m)
		for _, a := range append(slices.Clone(anchors), "all") {
			fmt.Fprintf(&b, " %s |", s.get(a, m))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// versionPrefix reports whether want is a prefix of got at a component boundary.
func versionPrefix(want, got string) bool {
	return got == want || strings.HasPrefix(got, want+".")
}

func containsAll(want, got []string) bool {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

func scoreCase(s score, c corpusCase, p *detect.Plan, err error, mismatch func(string)) {
	e := c.Expect
	a := c.Anchor
	knownErr := errors.Is(err, detect.ErrNotDetected) || errors.Is(err, detect.ErrNoStartCommand)
	if e.ExpectFailure {
		ok := knownErr && p == nil
		s.add(a, "expect_failure", ok)
		if e.Language != nil {
			s.add(a, "language", ok)
		}
		if !ok {
			mismatch(fmt.Sprintf("expect_failure: got plan %v err %v", p != nil, err))
		}
		return
	}
	if err != nil || p == nil {
		mismatch(fmt.Sprintf("error: %v", err))
		for _, m := range []struct {
			present bool
			name    string
		}{{e.Language != nil, "language"}, {e.StartCmd != nil, "start_cmd"}, {e.StartCmd != nil, "start_cmd_ws"},
			{e.InstallCmds != nil, "install_cmds"}, {e.InstallCmds != nil, "install_soft"}, {e.BuildCmds != nil, "build_cmds"},
			{e.BuildCmds != nil, "build_soft"}, {e.RuntimeVersion != nil, "runtime_version"}, {e.PackageManager != nil, "package_manager"},
			{e.Framework != nil, "framework"}, {e.Port != nil, "port"}, {e.StaticRoot != nil, "static_root"}} {
			if m.present {
				s.add(a, m.name, false)
			}
		}
		return
	}
	check := func(metric string, ok bool, want, got any) {
		s.add(a, metric, ok)
		if !ok {
			mismatch(fmt.Sprintf("%s: want %v got %v", metric, want, got))
		}
	}
	if e.Language != nil {
		check("language", *e.Language == p.Language, *e.Language, p.Language)
	}
	if e.StartCmd != nil {
		check("start_cmd", p.StartCmd != nil && *p.StartCmd == *e.StartCmd, *e.StartCmd, str(p.StartCmd))
		ws := func(s string) string { return strings.Join(strings.Fields(s), " ") }
		s.add(a, "start_cmd_ws", p.StartCmd != nil && ws(*p.StartCmd) == ws(*e.StartCmd))
	}
	arch := func(l []string) []string {
		out := make([]string, len(l))
		for i, x := range l {
			out[i] = strings.ReplaceAll(x, "{ARCH}", "x86_64")
		}
		return out
	}
	if e.InstallCmds != nil {
		check("install_cmds", slices.Equal(arch(e.InstallCmds), p.InstallCmds), e.InstallCmds, p.InstallCmds)
		s.add(a, "install_soft", containsAll(arch(e.InstallCmds), p.InstallCmds))
	}
	if e.BuildCmds != nil {
		check("build_cmds", slices.Equal(arch(e.BuildCmds), p.BuildCmds), e.BuildCmds, p.BuildCmds)
		s.add(a, "build_soft", containsAll(arch(e.BuildCmds), p.BuildCmds))
	}
	if e.RuntimeVersion != nil {
		check("runtime_version", p.RuntimeVersion != nil && versionPrefix(*e.RuntimeVersion, *p.RuntimeVersion), *e.RuntimeVersion, str(p.RuntimeVersion))
	}
	if e.PackageManager != nil {
		check("package_manager", p.PackageManager != nil && strings.EqualFold(*e.PackageManager, *p.PackageManager), *e.PackageManager, str(p.PackageManager))
	}
	if e.Framework != nil {
		check("framework", p.Framework != nil && strings.EqualFold(*e.Framework, *p.Framework), *e.Framework, str(p.Framework))
	}
	if e.Port != nil {
		gotPort := "<nil>"
		if p.Port != nil {
			gotPort = fmt.Sprint(*p.Port)
		}
		check("port", p.Port != nil && *p.Port == *e.Port, *e.Port, gotPort)
	}
	if e.StaticRoot != nil {
		norm := func(s string) string { return strings.TrimSuffix(strings.TrimPrefix(s, "./"), "/") }
		check("static_root", p.StaticRoot != nil && norm(*p.StaticRoot) == norm(*e.StaticRoot), *e.StaticRoot, str(p.StaticRoot))
	}
}

// The targets on the pure subset; the floors below are higher.
const (
	targetLanguage = 95.0
	targetStartCmd = 85.0
)

// floors are the committed scores (percent, rounded down) on the pure-autodetection subset;
// the test fails if any drops. Keep them in step with the table in README.md.
var floors = map[[2]string]float64{
	{"nixpacks", "language"}:              100,
	{"railpack", "language"}:              100,
	{"gcp-buildpacks", "language"}:        99,
	{"all", "language"}:                   99,
	{"nixpacks", "start_cmd"}:             84,
	{"railpack", "start_cmd"}:             91,
	{"all", "start_cmd"}:                  87,
	{"nixpacks", "start_cmd_ws"}:          84,
	{"railpack", "start_cmd_ws"}:          91,
	{"all", "start_cmd_ws"}:               87,
	{"nixpacks", "install_cmds"}:          64,
	{"railpack", "install_cmds"}:          16,
	{"all", "install_cmds"}:               43,
	{"nixpacks", "install_soft"}:          64,
	{"railpack", "install_soft"}:          16,
	{"all", "install_soft"}:               43,
	{"nixpacks", "build_cmds"}:            81,
	{"railpack", "build_cmds"}:            87,
	{"all", "build_cmds"}:                 83,
	{"nixpacks", "build_soft"}:            81,
	{"railpack", "build_soft"}:            87,
	{"all", "build_soft"}:                 83,
	{"nixpacks", "runtime_version"}:       43,
	{"railpack", "runtime_version"}:       37,
	{"all", "runtime_version"}:            43,
	{"nixpacks", "package_manager"}:       100,
	{"railpack", "package_manager"}:       100,
	{"gcp-buildpacks", "package_manager"}: 88,
	{"all", "package_manager"}:            95,
	{"nixpacks", "framework"}:             100,
	{"railpack", "framework"}:             100,
	{"all", "framework"}:                  100,
	{"nixpacks", "port"}:                  100,
	{"railpack", "port"}:                  93,
	{"gcp-buildpacks", "port"}:            0,
	{"all", "port"}:                       26,
	{"nixpacks", "static_root"}:           88,
	{"railpack", "static_root"}:           100,
	{"all", "static_root"}:                93,
	{"gcp-buildpacks", "expect_failure"}:  87,
	{"all", "expect_failure"}:             87,
}

// runCorpus detects every case selected by keep and scores it.
func runCorpus(t *testing.T, keep func(corpusCase) bool) (score, []string) {
	t.Helper()
	s := score{}
	var mismatches []string
	parent := t.TempDir()
	for i, c := range corpus(t) {
		if !keep(c) {
			continue
		}
		dir := materialize(t, filepath.Join(parent, fmt.Sprint(i)), c)
		p, err := detect.Detect(context.Background(), dir, detect.Options{Env: c.Env})
		scoreCase(s, c, p, err, func(m string) { mismatches = append(mismatches, c.ID+": "+m) })
	}
	sort.Strings(mismatches)
	return s, mismatches
}

func TestCorpusPure(t *testing.T) {
	t.Parallel()
	s, mismatches := runCorpus(t, pure)
	t.Logf("pure autodetection subset:\n%s", s.table())
	if os.Getenv("DETECT_MISMATCHES") != "" {
		t.Logf("mismatches:\n%s", strings.Join(mismatches, "\n"))
	}
	if got := s.get("all", "language"); got.pct() < targetLanguage {
		t.Errorf("language agreement %s is below the %.0f%% target", got, targetLanguage)
	}
	if got := s.get("all", "start_cmd"); got.pct() < targetStartCmd {
		t.Errorf("start command agreement %s is below the %.0f%% target", got, targetStartCmd)
	}
	for k, floor := range floors {
		if got := s.get(k[0], k[1]); got.pct() < floor {
			t.Errorf("%s %s = %s, below the committed floor %.1f%%", k[0], k[1], got, floor)
		}
	}
}

func TestCorpusWithInputs(t *testing.T) {
	t.Parallel()
	s, mismatches := runCorpus(t, func(c corpusCase) bool { return inPlatform(c) && !pure(c) })
	t.Logf("with-inputs subset (information only):\n%s", s.table())
	if os.Getenv("DETECT_MISMATCHES") != "" {
		t.Logf("mismatches:\n%s", strings.Join(mismatches, "\n"))
	}
}
