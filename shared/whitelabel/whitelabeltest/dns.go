// Package whitelabeltest has test helpers for custom domains: a tiny in-process DNS server
// that answers TXT queries over UDP on 127.0.0.1, so verification runs the real net.Resolver.
package whitelabeltest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// DNS is a DNS server answering TXT queries from a table; other names get NXDOMAIN, and names
// marked failing get SERVFAIL.
type DNS struct {
	// Addr is the server's "127.0.0.1:port".
	Addr string

	conn    net.PacketConn
	mu      sync.Mutex
	txt     map[string][]string
	failing map[string]bool
	queries int
}

// NewDNS starts a server on 127.0.0.1, stopped at the end of the test.
func NewDNS(tb testing.TB) *DNS {
	tb.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	d := &DNS{Addr: conn.LocalAddr().String(), conn: conn, txt: map[string][]string{}, failing: map[string]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.serve()
	}()
	tb.Cleanup(func() {
		conn.Close()
		<-done
	})
	return d
}

func canonical(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

// SetTXT makes name answer values (one TXT record each); no values removes the name.
func (d *DNS) SetTXT(name string, values ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(values) == 0 {
		delete(d.txt, canonical(name))
		return
	}
	d.txt[canonical(name)] = values
}

// Fail makes queries for name answer SERVFAIL (on) or not.
func (d *DNS) Fail(name string, on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failing[canonical(name)] = on
}

// Queries is how many queries the server has answered.
func (d *DNS) Queries() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queries
}

func (d *DNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if out, ok := d.answer(buf[:n]); ok {
			d.conn.WriteTo(out, from)
		}
	}
}

// answer builds the response to one query message.
func (d *DNS) answer(msg []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	name := canonical(q.Name.String())
	d.mu.Lock()
	d.queries++
	values, found := d.txt[name]
	fail := d.failing[name]
	d.mu.Unlock()

	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	switch {
	case fail:
		rh.RCode = dnsmessage.RCodeServerFailure
	case !found:
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	if !fail && found && q.Type == dnsmessage.TypeTXT {
		for _, v := range values {
			// A TXT record is a list of strings of at most 255 bytes; split long values.
			var parts []string
			for len(v) > 255 {
				parts, v = append(parts, v[:255]), v[255:]
			}
			parts = append(parts, v)
			rr := dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeTXT, Class: dnsmessage.ClassINET, TTL: 1}
			if b.TXTResource(rr, dnsmessage.TXTResource{TXT: parts}) != nil {
				return nil, false
			}
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil, false
	}
	return out, true
}
