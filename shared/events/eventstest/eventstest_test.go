package eventstest_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runyard/runyard/shared/events/eventstest"
)

func TestRecorder(t *testing.T) {
	t.Parallel()
	var r eventstest.Recorder
	boom := errors.New("boom")
	r.FailNext(boom)
	if _, err := r.Publish(t.Context(), "t", []byte("lost"), nil); !errors.Is(err, boom) {
		t.Fatalf("Publish() error = %v, want %v", err, boom)
	}
	done := make(chan []eventstest.Message)
	go func() {
		msgs, _ := r.Wait(t.Context(), func(m []eventstest.Message) bool { return len(m) == 2 })
		done <- msgs
	}()
	attrs := map[string]string{"k": "v"}
	for _, d := range []string{"a", "b"} {
		if _, err := r.Publish(t.Context(), "t", []byte(d), attrs); err != nil {
			t.Fatal(err)
		}
	}
	attrs["k"] = "changed" // recorded copies do not change
	want := []eventstest.Message{
		{ID: "1", Topic: "t", Data: []byte("a"), Attrs: map[string]string{"k": "v"}},
		{ID: "2", Topic: "t", Data: []byte("b"), Attrs: map[string]string{"k": "v"}},
	}
	if diff := cmp.Diff(want, <-done); diff != "" {
		t.Errorf("Wait() (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, r.Messages()); diff != "" {
		t.Errorf("Messages() (-want +got):\n%s", diff)
	}
}
