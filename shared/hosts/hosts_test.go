package hosts_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/hosts"
)

func TestParse(t *testing.T) {
	t.Parallel()
	const rt = "abcdefghij234567klmn"
	tests := []struct {
		name string
		host string
		want hosts.Host
		bad  bool
	}{
		{name: "agent", host: rt + ".rt.example.com", want: hosts.Host{Runtime: rt, Port: 60000, Domain: "rt.example.com"}},
		{name: "vscode", host: "vscode-" + rt + ".rt.example.com", want: hosts.Host{Runtime: rt, Port: 60001, Domain: "rt.example.com"}},
		{name: "work-1", host: "work-1-" + rt + ".rt.example.com", want: hosts.Host{Runtime: rt, Port: 12000, Domain: "rt.example.com"}},
		{name: "work-2", host: "work-2-" + rt + ".rt.example.com", want: hosts.Host{Runtime: rt, Port: 12001, Domain: "rt.example.com"}},
		{name: "port", host: "3000-" + rt + ".rt.example.com", want: hosts.Host{Runtime: rt, Port: 3000, Domain: "rt.example.com"}},
		{name: "max port", host: "65535-" + rt + ".d", want: hosts.Host{Runtime: rt, Port: 65535, Domain: "d"}},
		{name: "with port, upper case, trailing dot", host: "VSCode-" + strings.ToUpper(rt) + ".LOCALHOST.:8080", want: hosts.Host{Runtime: rt, Port: 60001, Domain: "localhost"}},
		{name: "localhost", host: rt + ".localhost:8080", want: hosts.Host{Runtime: rt, Port: 60000, Domain: "localhost"}},
		{name: "custom domain", host: "work-1-" + rt + ".apps.customer.io", want: hosts.Host{Runtime: rt, Port: 12000, Domain: "apps.customer.io"}},
		{name: "no domain", host: rt, bad: true},
		{name: "empty", host: "", bad: true},
		{name: "port 0", host: "0-" + rt + ".d", bad: true},
		{name: "leading zero", host: "080-" + rt + ".d", bad: true},
		{name: "port too big", host: "65536-" + rt + ".d", bad: true},
		{name: "work-3", host: "work-3-" + rt + ".d", bad: true},
		{name: "vscode without id", host: "vscode-.d", bad: true},
		{name: "dash in id", host: "3000-a-b.d", bad: true},
		{name: "unknown prefix", host: "admin-" + rt + ".d", bad: true},
		{name: "id too long", host: strings.Repeat("a", 47) + ".d", bad: true},
		{name: "underscore", host: "a_b.d", bad: true},
		{name: "empty label in domain", host: rt + ".rt..example.com", bad: true},
		{name: "domain label dash", host: rt + ".-x.com", bad: true},
		{name: "bad port suffix", host: rt + ".d:http", bad: true},
		{name: "ipv6", host: "[::1]:8080", bad: true},
		{name: "unicode", host: "é.d", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := hosts.Parse(tt.host)
			if tt.bad {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want an error", tt.host, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.host, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.host, diff)
			}
		})
	}
}

func TestNamesRoundTrip(t *testing.T) {
	t.Parallel()
	const rt = "abc234"
	for _, port := range []int{60000, 60001, 12000, 12001, 3000, 1, 65535} {
		h := hosts.Name(rt, port, "rt.example.com")
		got, err := hosts.Parse(h)
		if err != nil || got.Runtime != rt || got.Port != port || got.Domain != "rt.example.com" {
			t.Errorf("Parse(Name(%q, %d)) = %+v, %v", rt, port, got, err)
		}
	}
	for _, tt := range []struct{ got, want string }{
		{hosts.Agent(rt, "d.io"), "abc234.d.io"},
		{hosts.VSCode(rt, "d.io"), "vscode-abc234.d.io"},
		{hosts.Work(1, rt, "d.io"), "work-1-abc234.d.io"},
		{hosts.Work(2, rt, "d.io"), "work-2-abc234.d.io"},
		{hosts.Name(rt, 8000, "localhost:8080"), "8000-abc234.localhost:8080"},
		{hosts.URL("https", rt, 60001, "d.io"), "https://vscode-abc234.d.io"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"abc.d", "vscode-abc.rt.example.com", "work-1-x.d:80", "3000-x.d.", "0-x.d", "a-b-c.d", "[::1]:1", ".", "x..d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		h, err := hosts.Parse(host)
		if err != nil {
			if h != (hosts.Host{}) {
				t.Fatalf("Parse(%q) = %+v with error", host, h)
			}
			return
		}
		if !hosts.ValidRuntimeID(h.Runtime) || h.Port < 1 || h.Port > 65535 || h.Domain == "" {
			t.Fatalf("Parse(%q) = %+v", host, h)
		}
		// The canonical name parses back to the same answer.
		back, err := hosts.Parse(hosts.Name(h.Runtime, h.Port, h.Domain))
		if err != nil || back != h {
			t.Fatalf("Parse(%q) = %+v; Parse(Name) = %+v, %v", host, h, back, err)
		}
	})
}
