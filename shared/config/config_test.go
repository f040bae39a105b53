package config_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/runyard/runyard/shared/config"
	"github.com/sethvargo/go-envconfig"
)

type testConfig struct {
	Port    int           `env:"PORT, default=8080"`
	Project string        `env:"PROJECT"`
	Key     config.Secret `env:"KEY"`
}

func (c *testConfig) Validate() error {
	var p config.Problems
	p.Check(c.Port > 0 && c.Port < 65536, "PORT must be 1-65535, got %d", c.Port)
	p.Check(c.Project != "", "PROJECT is required")
	return p.Err()
}

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    testConfig
		wantErr []string
	}{
		{name: "defaults", env: map[string]string{"PROJECT": "p"}, want: testConfig{Port: 8080, Project: "p"}},
		{name: "all problems at once", env: map[string]string{"PORT": "0"}, wantErr: []string{"PORT must be", "PROJECT is required"}},
		{name: "bad type", env: map[string]string{"PORT": "x", "PROJECT": "p"}, wantErr: []string{"Port", "invalid syntax"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got testConfig
			err := config.LoadFrom(context.Background(), &got, envconfig.MapLookuper(tc.env))
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("LoadFrom: %v", err)
				}
				if got != tc.want {
					t.Errorf("got %+v, want %+v", got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatal("LoadFrom: want error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	const value = "s3cr3t-value"
	c := testConfig{Project: "p", Key: value}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "key", c.Key, "cfg", c)
	j, _ := json.Marshal(c)
	outs := []string{fmt.Sprint(c), fmt.Sprintf("%+v %#v %s %v", c, c, c.Key, c.Key), buf.String(), string(j)}
	for _, o := range outs {
		if strings.Contains(o, value) {
			t.Errorf("secret leaked in %q", o)
		}
	}
	if c.Key.Reveal() != value {
		t.Errorf("Reveal() = %q", c.Key.Reveal())
	}
}
