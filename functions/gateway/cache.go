package gateway

import (
	"sync"
	"time"
)

// ttlCache is a bounded map whose entries expire: what one gateway instance remembers of
// runtime records, preview settings and memberships between requests. When full, it first
// drops expired entries, then an arbitrary quarter of the rest (no LRU bookkeeping on reads).
// Only answers that let a request through are cached; a miss is never remembered, so a runtime
// created a moment ago is found at once.
type ttlCache[V any] struct {
	mu   sync.Mutex
	ttl  time.Duration
	max  int
	now  func() time.Time
	data map[string]cacheEntry[V]
}

type cacheEntry[V any] struct {
	v   V
	exp time.Time
}

func newTTLCache[V any](ttl time.Duration, max int, now func() time.Time) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, max: max, now: now, data: map[string]cacheEntry[V]{}}
}

// get returns the live value at k.
func (c *ttlCache[V]) get(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.data[k]
	if !ok || !c.now().Before(e.exp) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put stores v at k for the TTL (nothing when the TTL is 0).
func (c *ttlCache[V]) put(k string, v V) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if _, ok := c.data[k]; !ok && len(c.data) >= c.max {
		for key, e := range c.data {
			if !now.Before(e.exp) {
				delete(c.data, key)
			}
		}
		for key := range c.data {
			if len(c.data) < c.max*3/4 {
				break
			}
			delete(c.data, key)
		}
	}
	c.data[k] = cacheEntry[V]{v: v, exp: now.Add(c.ttl)}
}

// forget drops k (the runtime moved, or its service did not answer).
func (c *ttlCache[V]) forget(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.data, k)
}

func (c *ttlCache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.data)
}
