package emulators

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Firestore persistence.
//
// The jar's own --import-data/--export-on-exit flags do not fit: --import-data seeds the same
// documents into every project, and --export-on-exit fails in this emulator version ("Database
// name "projects/P/databases/" has invalid trailing "/"") whatever --project_id says. So the
// data is moved through the emulator's HTTP API, one project at a time:
//
//	POST /emulator/v1/projects/P:export {"database":"projects/P/databases/(default)","export_directory":DIR,"export_name":NAME}
//	POST /emulator/v1/projects/P:import {"database":"projects/P/databases/(default)","export_directory":DIR/NAME/NAME.overall_export_metadata}
//
// DIR must exist. Layout: DataDir/firestore/<project>/snapshot/snapshot.overall_export_metadata.

const exportName = "snapshot"

var projectIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._:-]*$`)

func (e *Emulator) firestoreDir() string { return filepath.Join(e.dataDir, "firestore") }

func metadataPath(projectDir string) string {
	return filepath.Join(projectDir, exportName, exportName+".overall_export_metadata")
}

// persistedProjects returns the projects with an export in DataDir.
func (e *Emulator) persistedProjects() ([]string, error) {
	entries, err := os.ReadDir(e.firestoreDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("emulators: read firestore data dir: %w", err)
	}
	var out []string
	for _, ent := range entries {
		if !ent.IsDir() || strings.HasPrefix(ent.Name(), ".") {
			continue
		}
		if _, err := os.Stat(metadataPath(filepath.Join(e.firestoreDir(), ent.Name()))); err == nil {
			out = append(out, ent.Name())
		}
	}
	return out, nil
}

// importData loads every export found in DataDir into its project.
func (e *Emulator) importData(ctx context.Context) error {
	projects, err := e.persistedProjects()
	if err != nil {
		return err
	}
	for _, p := range projects {
		meta, err := filepath.Abs(metadataPath(filepath.Join(e.firestoreDir(), p)))
		if err != nil {
			return fmt.Errorf("emulators: import %s: %w", p, err)
		}
		if err := e.adminCall(ctx, p, "import", map[string]string{
			"database":         "projects/" + p + "/databases/(default)",
			"export_directory": meta,
		}); err != nil {
			return err
		}
	}
	return nil
}

// exportData saves Projects, and every project imported at start, to DataDir. Each export is
// written to a temporary folder first and then swapped in, so a failed export keeps the last
// good one.
func (e *Emulator) exportData(ctx context.Context) error {
	persisted, err := e.persistedProjects()
	if err != nil {
		return err
	}
	projects := slices.Concat(e.projects, persisted)
	slices.Sort(projects)
	projects = slices.Compact(projects)
	var errs []error
	for _, p := range projects {
		if err := e.exportProject(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (e *Emulator) exportProject(ctx context.Context, p string) error {
	if !projectIDRE.MatchString(p) {
		return fmt.Errorf("emulators: export: invalid project id %q", p)
	}
	final, err := filepath.Abs(filepath.Join(e.firestoreDir(), p))
	if err != nil {
		return fmt.Errorf("emulators: export %s: %w", p, err)
	}
	tmp := filepath.Join(filepath.Dir(final), "."+p+".tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("emulators: export %s: %w", p, err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("emulators: export %s: %w", p, err)
	}
	if err := e.adminCall(ctx, p, "export", map[string]string{
		"database":         "projects/" + p + "/databases/(default)",
		"export_directory": tmp,
		"export_name":      exportName,
	}); err != nil {
		return err
	}
	if err := os.RemoveAll(final); err != nil {
		return fmt.Errorf("emulators: export %s: replace old export: %w", p, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("emulators: export %s: %w", p, err)
	}
	return nil
}

// adminCall posts to the emulator's /emulator/v1/projects/P:VERB endpoint.
func (e *Emulator) adminCall(ctx context.Context, project, verb string, body any) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("emulators: firestore %s %s: %w", verb, project, err)
	}
	url := "http://" + e.host + "/emulator/v1/projects/" + project + ":" + verb
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("emulators: firestore %s %s: %w", verb, project, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("emulators: firestore %s %s: %w", verb, project, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("emulators: firestore %s %s: %s: %s", verb, project, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
