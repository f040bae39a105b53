//go:build infracheck

package infra

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInfraCheck builds (once, into a cache outside the repository) the pinned OpenTofu CLI and
// Google provider from their Go modules (tools/), then checks the Terraform offline: tofu fmt
// -check, tofu get, tofu validate, and tofu test (tests/*.tftest.hcl against a mocked google
// provider). Nothing reaches a registry or Google: the provider comes in through dev_overrides,
// and tofu init is never run. `make infra-check` runs it (build tag infracheck).
func TestInfraCheck(t *testing.T) {
	tofu, providerDir := buildTools(t)

	tmp := t.TempDir()
	cli := filepath.Join(tmp, "tofu.rc")
	rc := "provider_installation {\n  dev_overrides {\n    \"hashicorp/google\" = \"" + providerDir + "\"\n  }\n}\n"
	if err := os.WriteFile(cli, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		// The machine's environment may point TF_CLI_CONFIG_FILE elsewhere: override it.
		"TF_CLI_CONFIG_FILE="+cli,
		"TF_DATA_DIR="+filepath.Join(tmp, "data"), // .terraform/ stays out of the repository
		"TF_IN_AUTOMATION=1",
		"CHECKPOINT_DISABLE=1",
		"TF_PLUGIN_CACHE_DIR=",
	)
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		cmd := exec.Command(tofu, args...)
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("tofu %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}

	// Sequential: get must come before validate and test.
	t.Run("fmt", func(t *testing.T) { run(t, "fmt", "-check", "-recursive", "-diff", "-no-color") })
	t.Run("get", func(t *testing.T) { run(t, "get", "-no-color") })
	t.Run("validate", func(t *testing.T) {
		out := run(t, "validate", "-no-color")
		if !strings.Contains(out, "Success!") {
			t.Fatalf("tofu validate did not report success:\n%s", out)
		}
	})
	t.Run("test", func(t *testing.T) {
		out := run(t, "test", "-no-color")
		t.Log(lastLine(out))
		if !strings.Contains(out, "Success!") {
			t.Fatalf("tofu test did not report success:\n%s", out)
		}
	})
}

// buildTools runs tools/build.sh (a stat per tool when cached) and returns the tofu binary and
// the directory holding terraform-provider-google.
func buildTools(t *testing.T) (tofu, providerDir string) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join("tools", "build.sh"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tools/build.sh: %v\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "TOFU="); ok {
			tofu = v
		}
		if v, ok := strings.CutPrefix(sc.Text(), "GOOGLE_PROVIDER_DIR="); ok {
			providerDir = v
		}
	}
	if tofu == "" || providerDir == "" {
		t.Fatalf("tools/build.sh printed no TOFU= and GOOGLE_PROVIDER_DIR= lines:\n%s", out)
	}
	return tofu, providerDir
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
