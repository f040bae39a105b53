package githubhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"strings"

	"github.com/runyard/runyard/shared/build"
)

// ErrPayload: the body is not a push event payload.
var ErrPayload = errors.New("githubhook: malformed payload")

// ErrMediaType: the body is neither application/json nor a GitHub form payload.
var ErrMediaType = errors.New("githubhook: unsupported content type")

// PushEvent is the part of GitHub's push payload the webhook uses.
type PushEvent struct {
	// Ref is the full ref pushed: refs/heads/<branch> or refs/tags/<tag>.
	Ref string `json:"ref"`
	// Before and After are the commits the ref moved between; After is all zeros on a delete.
	Before  string `json:"before"`
	After   string `json:"after"`
	Deleted bool   `json:"deleted"`
	Created bool   `json:"created"`
	Forced  bool   `json:"forced"`
	// Repository identifies the repository the hook is installed on.
	Repository struct {
		HTMLURL       string `json:"html_url"`
		FullName      string `json:"full_name"`
		DefaultBranch string `json:"default_branch"`
	} `json:"repository"`
	Sender struct {
		Login string `json:"login"`
	} `json:"sender"`
	Pusher struct {
		Name string `json:"name"`
	} `json:"pusher"`
}

// maxRefLen bounds a ref (git allows long refs; GitHub is well below this).
const maxRefLen = 1024

// ParsePush decodes a push payload: one JSON object with a ref and an after commit. Fields
// GitHub adds are ignored. Errors wrap ErrPayload.
func ParsePush(body []byte) (PushEvent, error) {
	var ev PushEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&ev); err != nil {
		return PushEvent{}, fmt.Errorf("%w: not a JSON object", ErrPayload)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return PushEvent{}, fmt.Errorf("%w: trailing data after the JSON object", ErrPayload)
	}
	switch {
	case ev.Ref == "" || len(ev.Ref) > maxRefLen:
		return PushEvent{}, fmt.Errorf("%w: ref must be 1-%d characters", ErrPayload, maxRefLen)
	case ev.After == "":
		return PushEvent{}, fmt.Errorf("%w: after is required", ErrPayload)
	}
	return ev, nil
}

// Branch is the branch a push updated; ok is false for a tag or another kind of ref.
func (e PushEvent) Branch() (branch string, ok bool) {
	b, ok := strings.CutPrefix(e.Ref, "refs/heads/")
	if !ok || b == "" {
		return "", false
	}
	return b, true
}

// zeroCommit reports whether c is git's null commit (a deleted ref's after).
func zeroCommit(c string) bool { return strings.Trim(c, "0") == "" }

// BuildsCommit reports whether the push leaves a commit to build: not a deletion, and after
// is a full commit id.
func (e PushEvent) BuildsCommit() bool {
	return !e.Deleted && !zeroCommit(e.After) && build.ValidCommit(e.After)
}

// Actor names who pushed, for the build record.
func (e PushEvent) Actor() string {
	switch {
	case e.Sender.Login != "":
		return "github:" + e.Sender.Login
	case e.Pusher.Name != "":
		return "github:" + e.Pusher.Name
	}
	return "github"
}

// jsonPayload returns the JSON document of a delivery: the body itself for application/json
// (or no content type), the "payload" form field for application/x-www-form-urlencoded (the
// other content type GitHub offers). The signature always covers the raw body.
func jsonPayload(contentType string, body []byte) ([]byte, error) {
	if contentType == "" {
		return body, nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, ErrMediaType
	}
	switch mt {
	case "application/json":
		return body, nil
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil || len(v["payload"]) != 1 {
			return nil, fmt.Errorf("%w: form body needs exactly one payload field", ErrPayload)
		}
		return []byte(v.Get("payload")), nil
	}
	return nil, ErrMediaType
}
