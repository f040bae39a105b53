package runtimeapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/runyard/runyard/shared/archive"
	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/tenancy"
)

// The V0 image builds: OpenHands asks for the registry prefix, checks which of its tags
// exist, uploads a Dockerfile context (base64 of a tar.gz, multipart) for the missing one and
// polls the build; then starts runtimes with that image name.
//
// Runyard builds the context with Cloud Build (strategy dockerfile) into its own Artifact
// Registry tags; the name OpenHands chose (<registry_prefix>/runtime:<tag>) is a cache key of
// the tenant's image cache (images/{ImageKey(tenant, "openhands:"+name)}), which /image_exists
// reads and /start resolves to the built image. Tenants never see each other's images.

// cacheKeyPrefix namespaces OpenHands image names in the image cache.
const cacheKeyPrefix = "openhands:"

// registryPrefix is the (virtual) registry prefix OpenHands names its images under.
func (s *Server) registryPrefix() string {
	return strings.TrimRight(s.cfg.Build.ArtifactRepo, "/") + "/openhands"
}

// ours reports whether image is named under the registry prefix.
func (s *Server) ours(image string) bool {
	return strings.HasPrefix(image, s.registryPrefix()+"/")
}

// buildsOff answers why builds are unavailable, or nil.
func (s *Server) buildsOff() error {
	if s.local {
		return detailf(http.StatusNotImplemented, "image builds are not available locally; start runtimes with image local:<folder>")
	}
	if s.sources == nil || s.cfg.Build.ArtifactRepo == "" {
		return detailf(http.StatusNotImplemented, "image builds are not configured here; set SANDBOX_RUNTIME_CONTAINER_IMAGE to a prebuilt runtime image")
	}
	return nil
}

func (s *Server) handleRegistryPrefix(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	if err := s.buildsOff(); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"registry_prefix": s.registryPrefix()})
	return nil
}

// cached returns the tenant's image cache entry of an OpenHands image name.
func (s *Server) cached(ctx context.Context, tenant, image string) (build.ImageRecord, bool, error) {
	var img build.ImageRecord
	_, err := s.store.Get(ctx, store.Key{Kind: store.KindImages, ID: build.ImageKey(tenant, cacheKeyPrefix+image)}, &img)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidKey):
		return img, false, nil
	case err != nil:
		return img, false, fmt.Errorf("runtimeapi: image cache: %w", err)
	}
	return img, img.Ready && img.Image != "" && img.Tenant == tenant, nil
}

func (s *Server) handleImageExists(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	if err := s.buildsOff(); err != nil {
		return err
	}
	image := r.URL.Query().Get("image")
	if !validImage(image) {
		return detailf(http.StatusBadRequest, "image must be an image reference")
	}
	if !s.ours(image) {
		writeJSON(w, http.StatusOK, map[string]any{"exists": false})
		return nil
	}
	img, ok, err := s.cached(r.Context(), c.Tenant, image)
	if err != nil {
		return err
	}
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"exists": false})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"exists": true,
		"image": map[string]any{"upload_time": img.Updated.UTC().Format(time.RFC3339), "image_size_bytes": 0}})
	return nil
}

func validImage(image string) bool {
	return image != "" && len(image) <= 1024 && !strings.ContainsAny(image, " \t\n\"'`$")
}

// handleBuild takes OpenHands' multipart upload: context (base64 of a tar.gz with a Dockerfile
// at its root), target_image, tags.
func (s *Server) handleBuild(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	if err := s.buildsOff(); err != nil {
		return err
	}
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		return detailf(http.StatusBadRequest, "the body must be multipart/form-data with context and target_image: %v", err)
	}
	defer func() {
		if r.MultipartForm != nil {
			_ = r.MultipartForm.RemoveAll()
		}
	}()
	target := r.FormValue("target_image")
	if !validImage(target) || !s.ours(target) {
		return detailf(http.StatusBadRequest, "target_image must be an image under %s (see /registry_prefix)", s.registryPrefix())
	}
	var encoded []byte
	if f, _, err := r.FormFile("context"); err == nil {
		encoded, err = io.ReadAll(f)
		_ = f.Close()
		if err != nil {
			return detailf(http.StatusBadRequest, "cannot read context: %v", err)
		}
	} else {
		encoded = []byte(r.FormValue("context"))
	}
	if len(encoded) == 0 {
		return detailf(http.StatusBadRequest, "context is required (base64 of a tar.gz build folder)")
	}
	tgz, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(encoded)))
	if err != nil {
		return detailf(http.StatusBadRequest, "context is not base64: %v", err)
	}
	if err := checkContext(tgz); err != nil {
		return err
	}
	uri, _, err := s.sources.Put(r.Context(), c.Tenant, store.NewSortableID(time.Now()), bytes.NewReader(tgz))
	if err != nil {
		return fmt.Errorf("runtimeapi: store context: %w", err)
	}
	rec, err := s.builds.Create(r.Context(), c.Tenant, build.Spec{Source: build.Source{Archive: uri}, CacheKey: cacheKeyPrefix + target,
		Strategy: build.StrategyDockerfile, Trigger: build.TriggerAPI, Actor: c.Actor()})
	if err != nil {
		return fmt.Errorf("runtimeapi: build: %w", err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"build_id": rec.ID})
	return nil
}

// checkContext extracts the archive into a scratch folder: it must be a safe tar.gz with a
// Dockerfile at its root.
func checkContext(tgz []byte) error {
	scratch, err := os.MkdirTemp("", "runtimeapi-context-")
	if err != nil {
		return fmt.Errorf("runtimeapi: scratch: %w", err)
	}
	defer os.RemoveAll(scratch)
	tree := filepath.Join(scratch, "tree")
	if _, err := archive.ExtractTarGz(bytes.NewReader(tgz), tree, archive.Limits{}); err != nil {
		switch {
		case errors.Is(err, archive.ErrTooLarge):
			return detailf(http.StatusRequestEntityTooLarge, "the context expands beyond the limits")
		case errors.Is(err, archive.ErrMalformed), errors.Is(err, archive.ErrUnsafe):
			return detailf(http.StatusBadRequest, "context is not a safe tar.gz archive: %v", err)
		}
		return fmt.Errorf("runtimeapi: extract context: %w", err)
	}
	if st, err := os.Stat(filepath.Join(tree, "Dockerfile")); err != nil || !st.Mode().IsRegular() {
		return detailf(http.StatusBadRequest, "context has no Dockerfile at its root")
	}
	return nil
}

// cloudBuildStatus names build statuses as Cloud Build does (what OpenHands expects).
var cloudBuildStatus = map[build.Status]string{
	build.StatusQueued: "QUEUED", build.StatusWorking: "WORKING", build.StatusSuccess: "SUCCESS",
	build.StatusFailure: "FAILURE", build.StatusTimeout: "TIMEOUT", build.StatusCancelled: "CANCELLED",
}

func (s *Server) handleBuildStatus(w http.ResponseWriter, r *http.Request, c tenancy.Caller) error {
	if err := s.buildsOff(); err != nil {
		return err
	}
	id := r.URL.Query().Get("build_id")
	if id == "" || len(id) > 64 || strings.ContainsAny(id, "/. ") {
		return detailf(http.StatusBadRequest, "build_id is required")
	}
	rec, err := s.builds.Get(r.Context(), c.Tenant, id)
	if err != nil || !strings.HasPrefix(rec.CacheKey, cacheKeyPrefix) {
		if err == nil || errors.Is(err, build.ErrNotFound) {
			return detailf(http.StatusNotFound, "build not found")
		}
		return fmt.Errorf("runtimeapi: build status: %w", err)
	}
	st, ok := cloudBuildStatus[rec.Status]
	if !ok {
		st = "INTERNAL_ERROR"
	}
	out := map[string]string{"status": st, "image": strings.TrimPrefix(rec.CacheKey, cacheKeyPrefix)}
	if rec.Error != "" {
		out["error"] = rec.Error
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
