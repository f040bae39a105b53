package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/runyard/runyard/shared/events"
	eventspubsub "github.com/runyard/runyard/shared/events/pubsub"
)

const project = "test-project"

// newServer starts pstest with the given topics and returns it and a real client on it.
func newServer(tb testing.TB, topics ...string) (*pstest.Server, *pubsub.Client) {
	tb.Helper()
	srv := pstest.NewServer()
	tb.Cleanup(func() { _ = srv.Close() })
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	client, err := pubsub.NewClient(context.Background(), project, option.WithGRPCConn(conn))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = client.Close() })
	for _, t := range topics {
		if _, err := client.TopicAdminClient.CreateTopic(context.Background(),
			&pubsubpb.Topic{Name: topicName(t)}); err != nil {
			tb.Fatal(err)
		}
	}
	return srv, client
}

func topicName(id string) string { return fmt.Sprintf("projects/%s/topics/%s", project, id) }

type got struct {
	Topic string
	Data  string
	Attrs map[string]string
}

func TestPublish(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		topic   string
		data    string
		attrs   map[string]string
		want    got
		wantErr error
	}{
		{
			name:  "topic id",
			topic: "cloud-builds",
			data:  `{"id":"b1"}`,
			attrs: map[string]string{"buildId": "b1", "status": "QUEUED"},
			want:  got{Topic: topicName("cloud-builds"), Data: `{"id":"b1"}`, Attrs: map[string]string{"buildId": "b1", "status": "QUEUED"}},
		},
		{
			name:  "full topic name",
			topic: topicName("usage"),
			data:  "u",
			want:  got{Topic: topicName("usage"), Data: "u"},
		},
		{name: "missing topic", topic: "nope", data: "x", wantErr: events.ErrTopicNotFound},
		{name: "empty topic", topic: "", data: "x", wantErr: events.ErrInvalid},
		{name: "empty message", topic: "usage", wantErr: events.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, client := newServer(t, "cloud-builds", "usage")
			p := eventspubsub.New(client)
			t.Cleanup(p.Close)
			id, err := p.Publish(t.Context(), tt.topic, []byte(tt.data), tt.attrs)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Publish() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Publish() error = %v", err)
			}
			msgs := srv.Messages()
			if len(msgs) != 1 {
				t.Fatalf("server has %d messages, want 1", len(msgs))
			}
			if msgs[0].ID != id {
				t.Errorf("Publish() id = %q, server has %q", id, msgs[0].ID)
			}
			g := got{Topic: msgs[0].Topic, Data: string(msgs[0].Data), Attrs: msgs[0].Attributes}
			if diff := cmp.Diff(tt.want, g, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("published (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPublishConcurrentTopics(t *testing.T) {
	t.Parallel()
	srv, client := newServer(t, "a", "b")
	p := eventspubsub.New(client)
	defer p.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			topic := []string{"a", "b"}[i%2]
			if _, err := p.Publish(t.Context(), topic, []byte{byte(i)}, nil); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	count := map[string]int{}
	for _, m := range srv.Messages() {
		count[m.Topic]++
	}
	if diff := cmp.Diff(map[string]int{topicName("a"): 10, topicName("b"): 10}, count); diff != "" {
		t.Errorf("messages per topic (-want +got):\n%s", diff)
	}
}

func TestPublishAfterClose(t *testing.T) {
	t.Parallel()
	_, client := newServer(t, "a")
	p := eventspubsub.New(client)
	if _, err := p.Publish(t.Context(), "a", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p.Close() // idempotent
	if _, err := p.Publish(t.Context(), "a", []byte("x"), nil); !errors.Is(err, events.ErrClosed) {
		t.Fatalf("Publish() after Close error = %v, want %v", err, events.ErrClosed)
	}
}
