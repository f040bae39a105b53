package cloudbuild

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runyard/runyard/shared/build"
)

// Notification attributes Cloud Build sets on the messages it publishes on the cloud-builds
// topic; the data is the Build resource in proto JSON.
const (
	AttrBuildID = "buildId"
	AttrStatus  = "status"
	// Topic is the Pub/Sub topic Cloud Build publishes build notifications on.
	Topic = "cloud-builds"
)

// Decoder errors.
var (
	// ErrMalformedNotification: the message is not a Cloud Build notification (bad JSON, no
	// build id, an unknown status). Retrying it cannot help.
	ErrMalformedNotification = errors.New("cloudbuild: malformed build notification")
	// ErrNotOurs: a well-formed notification of a build Runyard did not start (no runyard
	// tags); the consumer acknowledges and ignores it.
	ErrNotOurs = errors.New("cloudbuild: build notification is not one of ours")
)

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// maxNotification bounds the data the decoder parses (Pub/Sub caps messages at 10 MB).
const maxNotification = 10 << 20

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedNotification, fmt.Sprintf(format, args...))
}

// statusOf maps a Cloud Build status to the port's.
func statusOf(s cloudbuildpb.Build_Status) (build.Status, bool) {
	switch s {
	case cloudbuildpb.Build_QUEUED, cloudbuildpb.Build_PENDING:
		return build.StatusQueued, true
	case cloudbuildpb.Build_WORKING:
		return build.StatusWorking, true
	case cloudbuildpb.Build_SUCCESS:
		return build.StatusSuccess, true
	case cloudbuildpb.Build_FAILURE, cloudbuildpb.Build_INTERNAL_ERROR:
		return build.StatusFailure, true
	case cloudbuildpb.Build_TIMEOUT, cloudbuildpb.Build_EXPIRED:
		return build.StatusTimeout, true
	case cloudbuildpb.Build_CANCELLED:
		return build.StatusCancelled, true
	}
	return "", false
}

// DecodeNotification decodes one message of the cloud-builds topic. The build's identity
// comes from its tags (ErrNotOurs without them); its image is Build.Images[0] (Dockerfile
// builds) or the IMAGE of the digest step (pack builds), and its digest the matching
// Results.Images entry or the digest step's output. When the buildId attribute and the data
// disagree the message is malformed; the status attribute is informational (data wins).
func DecodeNotification(attrs map[string]string, data []byte) (build.Event, error) {
	if len(data) == 0 {
		return build.Event{}, malformed("no data")
	}
	if len(data) > maxNotification {
		return build.Event{}, malformed("data of %d bytes", len(data))
	}
	var b cloudbuildpb.Build
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &b); err != nil {
		return build.Event{}, malformed("%v", err)
	}
	id := b.GetId()
	if a := attrs[AttrBuildID]; a != "" {
		if id != "" && id != a {
			return build.Event{}, malformed("attribute buildId %q but data id %q", a, id)
		}
		id = a
	}
	if id == "" {
		return build.Event{}, malformed("no build id")
	}
	tenant, buildID, ok := build.ParseTags(b.GetTags())
	if !ok {
		return build.Event{}, fmt.Errorf("build %s: %w", id, ErrNotOurs)
	}
	st, ok := statusOf(b.GetStatus())
	if !ok {
		return build.Event{}, malformed("build %s has status %s", id, b.GetStatus())
	}
	ev := build.Event{
		ExternalID: id,
		Status:     st,
		Tenant:     tenant,
		BuildID:    buildID,
		LogURL:     b.GetLogUrl(),
		StartTime:  timeOf(b.GetStartTime()),
		FinishTime: timeOf(b.GetFinishTime()),
		Detail:     b.GetFailureInfo().GetDetail(),
	}
	if ev.Detail == "" {
		ev.Detail = b.GetStatusDetail()
	}
	ev.Image, ev.Digest = imageOf(&b)
	return ev, nil
}

// imageOf finds the image a build pushes and, once pushed, its digest.
func imageOf(b *cloudbuildpb.Build) (image, digest string) {
	if imgs := b.GetImages(); len(imgs) > 0 {
		image = imgs[0]
		for _, r := range b.GetResults().GetImages() {
			if r.GetName() == image && digestRE.MatchString(r.GetDigest()) {
				return image, r.GetDigest()
			}
		}
		return image, ""
	}
	outs := b.GetResults().GetBuildStepOutputs()
	for i, s := range b.GetSteps() {
		if s.GetId() != DigestStepID {
			continue
		}
		for _, e := range s.GetEnv() {
			if v, ok := strings.CutPrefix(e, "IMAGE="); ok {
				image = v
			}
		}
		if i < len(outs) {
			if d := strings.TrimSpace(string(outs[i])); digestRE.MatchString(d) {
				digest = d
			}
		}
		break
	}
	return image, digest
}

func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil || ts.CheckValid() != nil {
		return time.Time{}
	}
	return ts.AsTime()
}

// EncodeNotification is the message Cloud Build publishes on the cloud-builds topic for b:
// attributes buildId and status (the enum name), data the proto-JSON Build. The local builder
// and tests publish exactly this.
func EncodeNotification(b *cloudbuildpb.Build) (attrs map[string]string, data []byte, err error) {
	if b.GetId() == "" {
		return nil, nil, errors.New("cloudbuild: EncodeNotification: build has no id")
	}
	data, err = protojson.Marshal(b)
	if err != nil {
		return nil, nil, fmt.Errorf("cloudbuild: EncodeNotification: protojson.Marshal: %w", err)
	}
	return map[string]string{AttrBuildID: b.GetId(), AttrStatus: b.GetStatus().String()}, data, nil
}
