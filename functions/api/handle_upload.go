package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"

	"github.com/runyard/runyard/shared/archive"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/detect"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

// Error codes of uploads.
const (
	CodeNotDetected    = "not_detected"
	CodeBadArchive     = "bad_archive"
	CodeUploadTooLarge = "upload_too_large"
)

// isUpload reports whether the request body is a source archive rather than JSON.
func isUpload(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/gzip", "application/x-gzip", "application/x-tar+gzip", "application/tar+gzip":
		return true
	}
	return false
}

// uploadSpec reads an uploaded .tar.gz, extracts it with limits into a scratch directory,
// detects its plan (whose cache key is over the lockfiles), and stores the archive for the
// builder.
func (s *Server) uploadSpec(w http.ResponseWriter, r *http.Request, tenant string, c tenancy.Caller) (build.Spec, func(), error) {
	noop := func() {}
	scratch, err := os.MkdirTemp("", "runyard-upload-*")
	if err != nil {
		return build.Spec{}, noop, fmt.Errorf("api: upload scratch: %w", err)
	}
	cleanup := func() { _ = os.RemoveAll(scratch) }
	fail := func(err error) (build.Spec, func(), error) { cleanup(); return build.Spec{}, noop, err }

	// Spool the body (capped) so it can be both extracted and stored.
	spool, err := os.Create(filepath.Join(scratch, "source.tar.gz"))
	if err != nil {
		return fail(fmt.Errorf("api: upload spool: %w", err))
	}
	defer spool.Close()
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes)
	if _, err := io.Copy(spool, body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fail(httpx.Errorf(http.StatusRequestEntityTooLarge, CodeUploadTooLarge, "the archive exceeds %d bytes", s.cfg.MaxUploadBytes))
		}
		return fail(httpx.BadRequest(CodeBadArchive, "the upload was cut short").WithCause(err))
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("api: upload spool: %w", err))
	}
	tree := filepath.Join(scratch, "tree")
	if _, err := archive.ExtractTarGz(spool, tree, archive.Limits{}); err != nil {
		switch {
		case errors.Is(err, archive.ErrTooLarge):
			return fail(httpx.Errorf(http.StatusRequestEntityTooLarge, CodeUploadTooLarge, "the archive expands beyond the limits"))
		case errors.Is(err, archive.ErrMalformed), errors.Is(err, archive.ErrUnsafe):
			return fail(httpx.BadRequest(CodeBadArchive, "the upload is not a safe .tar.gz archive").WithCause(err))
		}
		return fail(fmt.Errorf("api: extract upload: %w", err))
	}
	plan, err := detect.Detect(r.Context(), tree, detect.Options{})
	if err != nil {
		if errors.Is(err, detect.ErrNotDetected) || errors.Is(err, detect.ErrNoStartCommand) {
			return fail(httpx.Errorf(http.StatusUnprocessableEntity, CodeNotDetected, "%s", err.Error()))
		}
		return fail(fmt.Errorf("api: detect: %w", err))
	}
	planJSON, err := json.Marshal(plan)
	if err != nil {
		return fail(fmt.Errorf("api: encode plan: %w", err))
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("api: upload spool: %w", err))
	}
	uri, _, err := s.sources.Put(r.Context(), tenant, store.NewSortableID(s.now()), spool)
	if err != nil {
		return fail(fmt.Errorf("api: store upload: %w", err))
	}
	strategy := plan.Strategy
	if strategy != build.StrategyDockerfile && strategy != build.StrategyStatic {
		strategy = build.StrategyBuildpacks
	}
	return build.Spec{
		Source: build.Source{Archive: uri}, CacheKey: plan.CacheKey, Strategy: strategy, PlanJSON: string(planJSON),
		InstallCmd: deref(plan.InstallCmd), BuildCmd: deref(plan.BuildCmd), AppDir: plan.AppDir,
		Trigger: build.TriggerAPI, Actor: c.Actor(),
	}, cleanup, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
