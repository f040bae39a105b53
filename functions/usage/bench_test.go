package usage_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	fnusage "github.com/runyard/runyard/functions/usage"
	"github.com/runyard/runyard/shared/store"
	"github.com/runyard/runyard/shared/usage"
)

// BenchmarkUsageHandler delivers b.N closed runtime periods (two meter events each) through the
// usage handler to stripe-mock behind the recording proxy, 8 deliveries at a time, and reports
// throughput and what the proxy saw: lost (identifiers Stripe never accepted) and dup
// (identifiers accepted more than once) must both be 0. A delivery that returns an error is
// delivered again, as Eventarc would.
func BenchmarkUsageHandler(b *testing.B) {
	f := newFixture(b, func(c *fnusage.Config) { c.StripeMaxRetries = 2 })
	ctx := context.Background()
	run := fmt.Sprintf("bench%d", time.Now().UnixNano()%1e9)
	end := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	evs := make([]event.Event, b.N)
	var wg sync.WaitGroup
	var seedErr atomic.Value
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < b.N; i += 8 {
				p := usage.Period{ID: usage.RuntimePeriodID(fmt.Sprintf("%s%08d", run, i), 2), Tenant: tenant, Kind: usage.KindRuntime,
					Runtime: fmt.Sprintf("%s%08d", run, i), State: "running", VCPU: 2, GiB: 4, Rate: 1, Start: end.Add(-10 * time.Minute),
					Status: usage.StatusOpen, Month: end.Format("2006-01")}
				p.Close(end)
				if _, err := f.st.Create(ctx, store.Key{Tenant: tenant, Kind: usage.KindUsage, ID: p.ID}, p); err != nil {
					seedErr.Store(err)
					return
				}
				data, _ := json.Marshal(usage.EventOf(p))
				env, _ := json.Marshal(map[string]any{"message": map[string]any{"data": base64.StdEncoding.EncodeToString(data), "messageId": fmt.Sprint(i)}})
				e := event.New()
				e.SetID(fmt.Sprint(i))
				e.SetType(fnusage.MessagePublishedType)
				e.SetSource("//pubsub.googleapis.com/projects/runyard-prod/topics/usage")
				if err := e.SetData(event.ApplicationJSON, env); err != nil {
					seedErr.Store(err)
					return
				}
				evs[i] = e
			}
		})
	}
	wg.Wait()
	if err := seedErr.Load(); err != nil {
		b.Fatal(err)
	}
	f.proxy.Reset()
	var next, redeliveries atomic.Int64
	b.SetParallelism(4) // 4 × GOMAXPROCS (2 here) = 8 deliveries at a time
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := evs[next.Add(1)-1]
			for attempt := 0; f.h.Handle(ctx, e) != nil; attempt++ {
				redeliveries.Add(1)
				if attempt == 20 {
					return // counted as lost below
				}
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()

	acc := f.accepted()
	dup := 0
	for _, n := range acc {
		dup += n - 1
	}
	lost := 2*b.N - len(acc)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(2*b.N)/elapsed.Seconds(), "meter_events/s")
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(dup), "dup")
	b.ReportMetric(float64(redeliveries.Load()), "redeliveries")
	if lost != 0 || dup != 0 {
		b.Errorf("%d periods: %d meter events lost, %d duplicated at Stripe", b.N, lost, dup)
	}
}
