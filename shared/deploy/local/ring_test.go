package local

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		max       int
		writes    []string
		mark      int // Since(mark)
		wantBytes string
		wantSince string
		wantTotal int64
	}{
		{name: "empty", max: 4},
		{name: "under the limit", max: 8, writes: []string{"ab", "cd"}, mark: 2, wantBytes: "abcd", wantSince: "cd", wantTotal: 4},
		{name: "at the limit", max: 4, writes: []string{"ab", "cd"}, wantBytes: "abcd", wantSince: "abcd", wantTotal: 4},
		{name: "over the limit", max: 4, writes: []string{"ab", "cd", "ef"}, mark: 1, wantBytes: "cdef", wantSince: "cdef", wantTotal: 6},
		{name: "many small writes", max: 3, writes: strings.Split("abcdefghij", ""), mark: 8, wantBytes: "hij", wantSince: "ij", wantTotal: 10},
		{name: "one big write", max: 3, writes: []string{"a", "bcdefg"}, mark: 0, wantBytes: "efg", wantSince: "efg", wantTotal: 7},
		{name: "mark at the end", max: 4, writes: []string{"abc"}, mark: 3, wantBytes: "abc", wantTotal: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRing(tc.max)
			for _, w := range tc.writes {
				if n, err := r.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write: %d, %v", n, err)
				}
			}
			got := []any{string(r.Bytes()), string(r.Since(int64(tc.mark))), r.Total()}
			want := []any{tc.wantBytes, tc.wantSince, tc.wantTotal}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Bytes, Since, Total (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		in    string
		lines int
		size  int
		want  string
	}{
		{name: "empty", in: "", lines: 3, size: 100, want: ""},
		{name: "few lines", in: "a\nb\n", lines: 3, size: 100, want: "a\nb"},
		{name: "last lines", in: "1\n2\n3\n4\n5\n", lines: 2, size: 100, want: "4\n5"},
		{name: "bytes cut a line", in: "first line\nsecond\n", lines: 5, size: 9, want: "second"},
		{name: "one long line", in: "abcdefghij", lines: 5, size: 4, want: "ghij"},
		{name: "invalid utf-8", in: "\xff\xfeok", lines: 5, size: 100, want: "\uFFFDok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tail([]byte(tc.in), tc.lines, tc.size); got != tc.want {
				t.Errorf("tail(%q, %d, %d) = %q, want %q", tc.in, tc.lines, tc.size, got, tc.want)
			}
		})
	}
}
