// Package grpcfake is the plumbing shared by Runyard's in-process fakes of Google gRPC APIs
// (shared/secrets/secretstest, shared/build/buildtest): an in-memory gRPC server whose
// interceptor counts calls and answers injected errors, and connections that let the real
// Google client talk to it.
package grpcfake

import (
	"context"
	"net"
	"path"
	"sync"
	"testing"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// Server is an in-memory gRPC server with call counting and error injection. A fake embeds it
// and registers its services with Register before Start.
type Server struct {
	srv *grpc.Server
	lis *bufconn.Listener

	mu    sync.Mutex
	calls map[string]int
	fails map[string][]codes.Code
}

// New returns a Server that is not serving yet.
func New() *Server {
	s := &Server{lis: bufconn.Listen(1 << 20), calls: map[string]int{}, fails: map[string][]codes.Code{}}
	s.srv = grpc.NewServer(grpc.UnaryInterceptor(s.intercept))
	return s
}

// Register registers services on the server, e.g.
// s.Register(func(g *grpc.Server) { cloudbuildpb.RegisterCloudBuildServer(g, fake) }).
func (s *Server) Register(fn func(*grpc.Server)) { fn(s.srv) }

// Start serves until tb's cleanup.
func (s *Server) Start(tb testing.TB) {
	tb.Helper()
	go func() { _ = s.srv.Serve(s.lis) }()
	tb.Cleanup(s.srv.Stop)
}

// ClientOption returns a connection to the server as an option for a real Google client; the
// connection closes with the client.
func (s *Server) ClientOption(tb testing.TB) option.ClientOption {
	tb.Helper()
	conn, err := grpc.NewClient("passthrough:///grpcfake",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatalf("grpc.NewClient: %v", err)
	}
	return option.WithGRPCConn(conn)
}

// intercept counts calls and answers injected errors before the handler runs.
func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	method := path.Base(info.FullMethod)
	s.mu.Lock()
	s.calls[method]++
	var injected *codes.Code
	if q := s.fails[method]; len(q) > 0 {
		injected, s.fails[method] = &q[0], q[1:]
	}
	s.mu.Unlock()
	if injected != nil {
		return nil, status.Errorf(*injected, "fake: injected %s on %s", *injected, method)
	}
	return h(ctx, req)
}

// FailNext makes the next n calls of method (the RPC's short name, e.g. "CreateBuild") fail
// with code. Injections queue up after earlier ones.
func (s *Server) FailNext(method string, code codes.Code, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.fails[method] = append(s.fails[method], code)
	}
}

// Calls reports how many calls of method the server received, failed ones included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}
