package githubhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/runyard/runyard/shared/build"
	"github.com/runyard/runyard/shared/httpx"
	"github.com/runyard/runyard/shared/logging"
	"github.com/runyard/runyard/shared/repos"
)

// GitHub's delivery headers.
const (
	HeaderEvent    = "X-GitHub-Event"
	HeaderDelivery = "X-GitHub-Delivery"
)

// HookResponse is the answer to a delivery GitHub shows in the hook's "Recent Deliveries".
type HookResponse struct {
	// Status is pong, ignored, duplicate or prebuild.
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Commit  string `json:"commit,omitempty"`
	BuildID string `json:"build_id,omitempty"`
	Cached  bool   `json:"cached,omitempty"`
}

// Statuses of HookResponse.
const (
	StatusPong      = "pong"
	StatusIgnored   = "ignored"
	StatusDuplicate = "duplicate"
)

// CodeReplayedDelivery answers a delivery id seen before (401: a replay).
const (
	CodeReplayedDelivery = "replayed_delivery"
	StatusPrebuild       = "prebuild"
)

var (
	// deliveryRE: GitHub sends a GUID; anything of this shape is accepted.
	deliveryRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	eventRE    = regexp.MustCompile(`^[a-z_]{1,64}$`)
)

// finishTimeout bounds recording a prebuild's outcome after the request's own deadline.
const finishTimeout = 10 * time.Second

// errNoHook is the one answer for an unknown tenant, an unknown connection and a malformed id.
var errNoHook = httpx.NotFound(httpx.CodeNotFound, "no such hook")

func (s *Server) handleHook(w http.ResponseWriter, r *http.Request) {
	if err := s.hook(w, r); err != nil {
		httpx.Error(w, r, err)
	}
}

func (s *Server) hook(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return httpx.Errorf(http.StatusRequestEntityTooLarge, httpx.CodeBodyTooLarge, "request body exceeds %d bytes", maxErr.Limit)
		}
		return httpx.BadRequest(httpx.CodeInvalidArgument, "could not read the request body").WithCause(err)
	}
	tenant := r.PathValue("tenant")
	repo, secret, err := s.hooks.Lookup(ctx, tenant, r.PathValue("repo"))
	switch {
	case errors.Is(err, repos.ErrNotFound):
		return errNoHook
	case err != nil:
		return backendError(fmt.Errorf("githubhook: lookup: %w", err))
	}
	// Nothing below runs, and nothing is written, for a delivery not signed with the secret.
	if err := VerifySignature(r.Header.Get(HeaderSignature), body, secret); err != nil {
		return httpx.Unauthenticated(CodeInvalidSignature, "%s must be the sha256 HMAC of the body with the hook's secret", HeaderSignature)
	}
	log := logging.FromContext(ctx).With("tenant", tenant, "repo", repo.ID)

	event := r.Header.Get(HeaderEvent)
	if !eventRE.MatchString(event) {
		return httpx.BadRequest(CodeInvalidEvent, "%s is missing or malformed", HeaderEvent)
	}
	switch event {
	case "ping":
		httpx.JSON(w, r, http.StatusOK, HookResponse{Status: StatusPong})
		return nil
	case "push":
	default:
		return ignore(w, r, "event "+event+" is not handled")
	}
	delivery := r.Header.Get(HeaderDelivery)
	if !deliveryRE.MatchString(delivery) {
		return httpx.BadRequest(CodeInvalidDelivery, "%s is missing or malformed", HeaderDelivery)
	}
	payload, err := jsonPayload(r.Header.Get("Content-Type"), body)
	switch {
	case errors.Is(err, ErrMediaType):
		return httpx.Errorf(http.StatusUnsupportedMediaType, httpx.CodeUnsupportedMedia, "Content-Type must be application/json or application/x-www-form-urlencoded")
	case err != nil:
		return httpx.BadRequest(httpx.CodeMalformedJSON, "%v", err)
	}
	ev, err := ParsePush(payload)
	if err != nil {
		return httpx.BadRequest(httpx.CodeMalformedJSON, "%v", err)
	}
	if reason := skip(repo, ev); reason != "" {
		log.InfoContext(ctx, "githubhook: push ignored", "reason", reason, "ref", ev.Ref, "delivery", delivery)
		return ignore(w, r, reason)
	}
	push, begin, err := s.hooks.BeginPush(ctx, repos.PushRequest{Tenant: tenant, Repo: repo, Delivery: delivery,
		Ref: ev.Ref, Commit: ev.After, Actor: ev.Actor()})
	switch {
	case errors.Is(err, repos.ErrNotFound):
		return errNoHook // disconnected meanwhile
	case err != nil:
		return backendError(fmt.Errorf("githubhook: %w", err))
	}
	switch begin {
	case repos.BeginDuplicateDelivery:
		// A delivery id is handled once: the same signed delivery again is a replay.
		return httpx.Unauthenticated(CodeReplayedDelivery, "this delivery was already handled")
	case repos.BeginDuplicateCommit:
		httpx.JSON(w, r, http.StatusOK, HookResponse{Status: StatusDuplicate, Reason: "commit already handled",
			Commit: ev.After, BuildID: push.BuildID, Cached: push.Cached})
		return nil
	}
	src := build.Source{RepoURL: repo.RepoURL, Ref: ev.Ref, Commit: ev.After}
	buildID, cached, perr := s.pre.Prebuild(ctx, tenant, src, ev.Actor())
	// The record is finished even when the request's deadline passed meanwhile.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := s.hooks.FinishPush(fctx, tenant, push, buildID, cached, perr); err != nil {
		log.ErrorContext(ctx, "githubhook: record the prebuild", "delivery", delivery, "error", err)
	}
	if perr != nil {
		return httpx.Errorf(http.StatusServiceUnavailable, httpx.CodeUnavailable, "the prebuild could not be started; redeliver to retry").WithCause(perr)
	}
	log.InfoContext(ctx, "githubhook: prebuild", "delivery", delivery, "commit", ev.After, "build_id", buildID, "cached", cached)
	httpx.JSON(w, r, http.StatusAccepted, HookResponse{Status: StatusPrebuild, Commit: ev.After, BuildID: buildID, Cached: cached})
	return nil
}

// backendError answers a store or secrets failure: 504 past the deadline, else 503 (GitHub's
// "Redeliver" retries; nothing was claimed).
func backendError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return httpx.Errorf(http.StatusGatewayTimeout, httpx.CodeTimeout, "the request timed out").WithCause(err)
	}
	return httpx.Errorf(http.StatusServiceUnavailable, httpx.CodeUnavailable, "a backend is unavailable, retry").WithCause(err)
}

// skip says why a verified push starts no prebuild, or "" when it does.
func skip(repo repos.Repo, ev PushEvent) string {
	branch, ok := ev.Branch()
	switch {
	case !ok:
		return "not a branch push"
	case branch != repo.DefaultBranch:
		return "not the default branch " + repo.DefaultBranch
	case ev.Deleted || zeroCommit(ev.After):
		return "branch deleted"
	case !build.ValidCommit(ev.After):
		return "after is not a full commit id"
	}
	if !sameRepository(repo.RepoURL, ev.Repository.HTMLURL) {
		return "the payload's repository is not the connected one"
	}
	return ""
}

// sameRepository reports whether the payload's repository html_url names the connected
// repository (GitHub names are case-insensitive).
func sameRepository(connected, htmlURL string) bool {
	u, err := url.Parse(connected)
	if err != nil {
		return false
	}
	got, err := repos.NormalizeURL(htmlURL, []string{u.Host})
	return err == nil && repos.SameRepo(got, connected)
}

func ignore(w http.ResponseWriter, r *http.Request, reason string) error {
	httpx.JSON(w, r, http.StatusAccepted, HookResponse{Status: StatusIgnored, Reason: reason})
	return nil
}
