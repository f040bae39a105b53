package gateway

import (
	"strconv"
	"testing"
	"time"
)

func TestTTLCache(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	c := newTTLCache[int](5*time.Second, 8, func() time.Time { return now })
	c.put("a", 1)
	if v, ok := c.get("a"); !ok || v != 1 {
		t.Fatalf("get a = %d, %v", v, ok)
	}
	now = now.Add(5 * time.Second)
	if _, ok := c.get("a"); ok {
		t.Error("an entry outlived its TTL")
	}
	c.put("b", 2)
	c.forget("b")
	if _, ok := c.get("b"); ok {
		t.Error("forget kept the entry")
	}
	for i := range 100 {
		c.put(strconv.Itoa(i), i)
		if c.len() > 8 {
			t.Fatalf("%d entries, bound 8", c.len())
		}
	}
	if v, ok := c.get("99"); !ok || v != 99 {
		t.Errorf("the newest entry is gone: %d %v", v, ok)
	}
	off := newTTLCache[int](0, 8, time.Now)
	off.put("x", 1)
	if _, ok := off.get("x"); ok {
		t.Error("a zero TTL cached")
	}
}
