package detect_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/runyard/runyard/shared/detect"
)

// BenchmarkCorpus detects the pure-autodetection corpus cases round robin: ns/op is the mean time
// per case; median-ns/case is the median over all calls.
func BenchmarkCorpus(b *testing.B) {
	parent := b.TempDir()
	var dirs []string
	for i, c := range corpus(b) {
		if pure(c) {
			dirs = append(dirs, materialize(b, filepath.Join(parent, fmt.Sprint(i)), c))
		}
	}
	ctx := context.Background()
	durs := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		_, _ = detect.Detect(ctx, dirs[i%len(dirs)], detect.Options{})
		durs = append(durs, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), "median-ns/case")
}

const monorepoFiles = 100_000

// monorepo generates (once per machine, under os.TempDir) a pnpm workspace of 1,000 packages with
// 100 files each: 100,000 files.
var monorepo = sync.OnceValues(func() (string, error) {
	dir := filepath.Join(os.TempDir(), "runyard-detect-monorepo-100k")
	done := filepath.Join(dir, ".generated")
	if _, err := os.Stat(done); err == nil {
		return dir, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	write := func(rel, content string) error {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(content), 0o644)
	}
	if err := write("package.json", `{"name":"mono","private":true,"workspaces":["packages/*"],"scripts":{"start":"node packages/pkg-0000/src/d0/f0.js"}}`); err != nil {
		return "", err
	}
	if err := write("pnpm-lock.yaml", "lockfileVersion: '9.0'\n"); err != nil {
		return "", err
	}
	n := 2
	for pkg := 0; n < monorepoFiles; pkg++ {
		base := fmt.Sprintf("packages/pkg-%04d", pkg)
		if err := write(base+"/package.json", fmt.Sprintf(`{"name":"pkg-%04d"}`, pkg)); err != nil {
			return "", err
		}
		n++
		for f := 0; f < 99 && n < monorepoFiles; f++ {
			if err := write(fmt.Sprintf("%s/src/d%d/f%d.js", base, f%10, f), ""); err != nil {
				return "", err
			}
			n++
		}
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		return "", err
	}
	return dir, nil
})

// BenchmarkMonorepo100k detects a 100,000-file monorepo: the walk limits keep it bounded.
func BenchmarkMonorepo100k(b *testing.B) {
	dir, err := monorepo()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := detect.Detect(ctx, dir, detect.Options{})
		if err != nil || p.Provider != "node" {
			b.Fatalf("Detect = %v, %v", p, err)
		}
	}
}
