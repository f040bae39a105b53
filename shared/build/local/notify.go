package local

import (
	"fmt"

	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"google.golang.org/protobuf/encoding/protojson"
)

// Notification attributes, as Cloud Build sets them on the cloud-builds topic.
const (
	AttrBuildID = "buildId"
	AttrStatus  = "status"
)

// encodeNotification encodes a build as Cloud Build publishes it: attributes buildId and status
// (the enum name), data the protojson of the Build.
//
// TODO(lead): fold onto cloudbuild.EncodeNotification when shared/build/cloudbuild lands.
func encodeNotification(b *cloudbuildpb.Build) (map[string]string, []byte, error) {
	data, err := protojson.Marshal(b)
	if err != nil {
		return nil, nil, fmt.Errorf("build/local: encode notification: %w", err)
	}
	return map[string]string{AttrBuildID: b.GetId(), AttrStatus: b.GetStatus().String()}, data, nil
}
