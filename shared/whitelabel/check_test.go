package whitelabel_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/whitelabel"
)

const platform = "rt.runyard.dev"

func TestCheckDomain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "plain", in: "dev.acme.com", want: "dev.acme.com"},
		{name: "upper case and trailing dot", in: " Dev.ACME.com. ", want: "dev.acme.com"},
		{name: "registrable domain", in: "acme.co.uk", want: "acme.co.uk"},
		{name: "internationalized", in: "bücher.de", want: "xn--bcher-kva.de"},
		{name: "punycode given", in: "xn--bcher-kva.de", want: "xn--bcher-kva.de"},
		{name: "fullwidth folded", in: "ａｃｍｅ.com", want: "acme.com"},
		{name: "empty", in: "", wantErr: "required"},
		{name: "wildcard", in: "*.acme.com", wantErr: "wildcards"},
		{name: "ipv4", in: "192.0.2.1", wantErr: "IP"},
		{name: "ipv6", in: "2001:db8::1", wantErr: "bare domain"},
		{name: "port", in: "acme.com:443", wantErr: "bare domain"},
		{name: "scheme", in: "https://acme.com", wantErr: "bare domain"},
		{name: "path", in: "acme.com/x", wantErr: "bare domain"},
		{name: "one label", in: "acme", wantErr: "two labels"},
		{name: "tld", in: "com", wantErr: "two labels"},
		{name: "public suffix", in: "co.uk", wantErr: "public suffix"},
		{name: "private public suffix", in: "appspot.com", wantErr: "public suffix"},
		{name: "wildcard public suffix", in: "a.run.app", wantErr: "public suffix"},
		{name: "github pages suffix", in: "github.io", wantErr: "public suffix"},
		{name: "localhost", in: "foo.localhost", wantErr: "reserved"},
		{name: "internal", in: "svc.internal", wantErr: "reserved"},
		{name: "numeric tld", in: "acme.123", wantErr: "numeric"},
		{name: "underscore", in: "_x.acme.com", wantErr: "not a valid"},
		{name: "leading hyphen", in: "-x.acme.com", wantErr: "not a valid"},
		{name: "empty label", in: "a..acme.com", wantErr: "not a valid"},
		{name: "long label", in: strings.Repeat("a", 64) + ".com", wantErr: "not a valid"},
		{name: "too long", in: strings.Repeat("abcdefghij.", 18) + "com", wantErr: "at most 190"},
		{name: "platform", in: platform, wantErr: "platform"},
		{name: "platform subdomain", in: "x.rt.runyard.dev", wantErr: "platform"},
		{name: "platform parent", in: "runyard.dev", wantErr: "platform"},
		{name: "space inside", in: "ac me.com", wantErr: "bare domain"},
		{name: "control", in: "acme\x00.com", wantErr: "not a valid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := whitelabel.CheckDomain(tc.in, platform)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("CheckDomain(%q) = %q, %v; want error with %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("CheckDomain(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// FuzzCheckDomain: the validator never panics, and what it accepts is canonical (checking it
// again gives it back), plain ASCII DNS, and a registrable name.
func FuzzCheckDomain(f *testing.F) {
	for _, s := range []string{"dev.acme.com", "bücher.de", "*.x.com", "1.2.3.4", "a..b", "xn--.com", "ＡＣＭＥ.com", "x.rt.runyard.dev", "a.b.c.d.e.f.co.uk", "xn--bcher-kva.de."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := whitelabel.CheckDomain(in, platform)
		if err != nil {
			return
		}
		if again, err := whitelabel.CheckDomain(got, platform); err != nil || again != got {
			t.Fatalf("CheckDomain(%q) = %q, but checking that gives %q, %v", in, got, again, err)
		}
		if len(got) > whitelabel.MaxDomainLen || strings.ContainsFunc(got, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.')
		}) {
			t.Fatalf("CheckDomain(%q) = %q: not canonical ASCII", in, got)
		}
		if got == platform || strings.HasSuffix(got, "."+platform) {
			t.Fatalf("CheckDomain(%q) = %q under the platform's domain", in, got)
		}
		if h, ok := whitelabel.CanonicalHost("vscode-abc." + got); !ok || h != "vscode-abc."+got {
			t.Fatalf("host under accepted domain %q is not canonical: %q %v", got, h, ok)
		}
	})
}

func TestCanonicalHost(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Vscode-ABC.dev.acme.com:443": "vscode-abc.dev.acme.com",
		"acme.com.":                   "acme.com",
		"bücher.de":                   "xn--bcher-kva.de",
		"localhost:8080":              "localhost",
		"127.0.0.1:80":                "",
		"[::1]:80":                    "",
		"a_b.com":                     "",
		"":                            "",
	} {
		got, ok := whitelabel.CanonicalHost(in)
		if got != want || ok != (want != "") {
			t.Errorf("CanonicalHost(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestBrandingCheck(t *testing.T) {
	t.Parallel()
	good := whitelabel.Branding{ProductName: " Acme Cloud ", LogoURL: "https://cdn.acme.com/logo.svg",
		Colors: whitelabel.Colors{Primary: "#AABBCC", Text: "#000000"}, SupportURL: "https://acme.com/help", AnalyticsKey: "G-ABC123"}
	got, err := good.Check()
	if err != nil {
		t.Fatal(err)
	}
	want := good
	want.ProductName, want.Colors.Primary = "Acme Cloud", "#aabbcc"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
	if _, err := (whitelabel.Branding{}).Check(); err != nil {
		t.Errorf("empty branding: %v", err)
	}
	bad := []struct {
		name, wantErr string
		b             whitelabel.Branding
	}{
		{"http logo", "logo_url", whitelabel.Branding{LogoURL: "http://acme.com/l.png"}},
		{"javascript logo", "logo_url", whitelabel.Branding{LogoURL: "javascript:alert(1)"}},
		{"data logo", "logo_url", whitelabel.Branding{LogoURL: "data:image/png;base64,AAAA"}},
		{"credentials in logo", "logo_url", whitelabel.Branding{LogoURL: "https://u:p@acme.com/l.png"}},
		{"relative logo", "logo_url", whitelabel.Branding{LogoURL: "/logo.png"}},
		{"newline in url", "support_url", whitelabel.Branding{SupportURL: "https://acme.com/\nx"}},
		{"http support", "support_url", whitelabel.Branding{SupportURL: "http://acme.com"}},
		{"short color", "colors.primary", whitelabel.Branding{Colors: whitelabel.Colors{Primary: "#abc"}}},
		{"named color", "colors.accent", whitelabel.Branding{Colors: whitelabel.Colors{Accent: "red"}}},
		{"css injection", "colors.background", whitelabel.Branding{Colors: whitelabel.Colors{Background: "#000000;}"}}},
		{"long name", "product_name", whitelabel.Branding{ProductName: strings.Repeat("x", 81)}},
		{"control in name", "product_name", whitelabel.Branding{ProductName: "a\u0007b"}},
		{"script key", "analytics_key", whitelabel.Branding{AnalyticsKey: "<script>"}},
		{"long key", "analytics_key", whitelabel.Branding{AnalyticsKey: strings.Repeat("k", 129)}},
	}
	for _, tc := range bad {
		if _, err := tc.b.Check(); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: Check() = %v, want error about %s", tc.name, err, tc.wantErr)
		}
	}
}
