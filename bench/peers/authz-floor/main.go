// authz-floor: the cheapest ext_authz gRPC server that is not Node, for make bench-e2e's
// floor-go engine. grpc-go serving envoy.service.auth.v3.Authorization/Check on a Unix
// socket (the sidecar's transport), answering every call with one fixed CheckResponse
// whose bytes the caller passes in hex (the same bytes floor-node answers with). The
// request is read off the wire and not decoded: no policy, no telemetry, no credentials.
// What it adds through Envoy is any out-of-process ext_authz round trip on this machine.
//
//	authz-floor -listen unix:/tmp/floor.sock -response <hex CheckResponse>
package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
)

// rawCodec passes message bytes through (named "proto": Envoy sends application/grpc).
// loadgen has its own (it copies what it reads): one Go module per tool (build.sh), so
// the two do not share a package.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	p := v.(*[]byte)
	*p = data
	return nil
}
func (rawCodec) Name() string { return "proto" }

var _ encoding.Codec = rawCodec{}

func serviceDesc(answer []byte) *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: "envoy.service.auth.v3.Authorization",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Check",
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var req []byte
				if err := dec(&req); err != nil {
					return nil, err
				}
				return &answer, nil
			},
		}},
	}
}

func main() {
	listen := flag.String("listen", "", "unix:/path or host:port")
	response := flag.String("response", "", "the CheckResponse to answer with, hex-encoded protobuf")
	flag.Parse()
	answer, err := hex.DecodeString(*response)
	if err != nil || *listen == "" {
		fmt.Fprintln(os.Stderr, "usage: authz-floor -listen unix:/path|host:port -response <hex>")
		os.Exit(2)
	}
	network, address := "tcp", *listen
	if path, ok := strings.CutPrefix(*listen, "unix:"); ok {
		network, address = "unix", path
		_ = os.Remove(path)
	}
	lis, err := net.Listen(network, address)
	if err != nil {
		fmt.Fprintf(os.Stderr, "authz-floor: %v\n", err)
		os.Exit(1)
	}
	s := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}))
	s.RegisterService(serviceDesc(answer), nil)
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		s.Stop()
	}()
	fmt.Fprintf(os.Stderr, "authz-floor: serving Check on %s\n", *listen)
	if err := s.Serve(lis); err != nil {
		fmt.Fprintf(os.Stderr, "authz-floor: %v\n", err)
		os.Exit(1)
	}
}
