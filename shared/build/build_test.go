package build_test

import (
	"strings"
	"testing"

	"github.com/runyard/runyard/shared/build"
)

func TestAdvances(t *testing.T) {
	t.Parallel()
	all := []build.Status{build.StatusQueued, build.StatusWorking, build.StatusSuccess, build.StatusFailure, build.StatusTimeout, build.StatusCancelled}
	tests := []struct {
		cur, next build.Status
		want      bool
	}{
		{build.StatusQueued, build.StatusWorking, true},
		{build.StatusQueued, build.StatusSuccess, true},
		{build.StatusWorking, build.StatusFailure, true},
		{build.StatusWorking, build.StatusQueued, false},
		{build.StatusWorking, build.StatusWorking, false},
		{build.StatusSuccess, build.StatusWorking, false},
		{build.StatusSuccess, build.StatusFailure, false},
		{build.StatusCancelled, build.StatusSuccess, false},
		{build.StatusQueued, build.Status("bogus"), false},
	}
	for _, tc := range tests {
		if got := build.Advances(tc.cur, tc.next); got != tc.want {
			t.Errorf("Advances(%s, %s) = %v, want %v", tc.cur, tc.next, got, tc.want)
		}
	}
	// No terminal status ever advances.
	for _, cur := range all {
		for _, next := range all {
			if cur.Terminal() && build.Advances(cur, next) {
				t.Errorf("terminal %s advances to %s", cur, next)
			}
		}
	}
}

func TestTags(t *testing.T) {
	t.Parallel()
	tenant, id, ok := build.ParseTags(build.Tags("acme", "b123"))
	if !ok || tenant != "acme" || id != "b123" {
		t.Errorf("round trip: %q %q %v", tenant, id, ok)
	}
	if _, _, ok := build.ParseTags([]string{"tenant-acme", "build-b1"}); ok {
		t.Error("a build without the runyard tag is not ours")
	}
}

func TestCacheKeys(t *testing.T) {
	t.Parallel()
	c := strings.Repeat("a", 40)
	if build.GitCacheKey("https://github.com/a/b", "main") != "" {
		t.Error("a ref has no cache key")
	}
	k1, k2 := build.GitCacheKey("https://github.com/a/b", c), build.GitCacheKey("https://github.com/a/c", c)
	if k1 == "" || k1 == k2 || !strings.HasPrefix(k1, "git:") {
		t.Errorf("git keys %q %q", k1, k2)
	}
	if build.ImageKey("acme", k1) == build.ImageKey("other", k1) {
		t.Error("two tenants share an image key")
	}
}
