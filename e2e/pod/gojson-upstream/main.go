// gojson-upstream: an MCP-ish upstream that reads request bodies the way a streaming Go server
// does, with one json.Decoder in a loop over several concatenated JSON-RPC messages, into a
// struct. encoding/json matches object keys to fields case-insensitively and the last duplicate
// key wins, so {"params":{"name":"a","NAME":"b"}} calls tool "b": the parser differential the
// pod tests put in front of agentwarden's decision.
//
//	gojson-upstream --listen 10.0.0.4:8080 [--listen ...]
//
// stdout: {"ready":true,"kind":"gojson","listen":[...]}, then one JSON line per decoded message
// (and one with "error" when decoding stops on bad input). Every request is answered 200 with a
// JSON-RPC result per message (an array when there were several), or 400 with a parse error when
// no message decoded. SIGTERM or SIGINT closes the listeners and exits 0.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// maxBody bounds what one request may send; the decoder stops there with an error line.
const maxBody = 4 << 20

// message is what the upstream decodes each JSON-RPC message into.
type message struct {
	Jsonrpc string
	ID      any
	Method  string
	Params  struct {
		Name      string
		Arguments map[string]any
	}
}

type received struct {
	Seq           int64          `json:"seq"`
	Time          string         `json:"time"`
	Index         int            `json:"index"`
	HTTPMethod    string         `json:"httpMethod"`
	Target        string         `json:"target"`
	Host          string         `json:"host"`
	Authorization *string        `json:"authorization"`
	Local         string         `json:"local"`
	Remote        string         `json:"remote"`
	Jsonrpc       string         `json:"jsonrpc,omitempty"`
	ID            any            `json:"id,omitempty"`
	Method        string         `json:"method,omitempty"`
	Tool          string         `json:"tool,omitempty"`
	Arguments     map[string]any `json:"arguments,omitempty"`
	Error         string         `json:"error,omitempty"`
}

type printer struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (p *printer) print(v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.enc.Encode(v)
}

type listenFlags []string

func (l *listenFlags) String() string     { return strings.Join(*l, ",") }
func (l *listenFlags) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var listen listenFlags
	flag.Var(&listen, "listen", "IP:PORT to listen on (repeatable)")
	flag.Parse()
	out := &printer{enc: json.NewEncoder(os.Stdout)}
	if len(listen) == 0 {
		out.print(map[string]any{"ready": false, "error": "--listen IP:PORT is required"})
		os.Exit(2)
	}
	handler := newHandler(out)
	var servers []*http.Server
	var bound []string
	for _, address := range listen {
		ln, err := net.Listen("tcp", address)
		if err != nil {
			out.print(map[string]any{"ready": false, "error": fmt.Sprintf("listen %s: %v", address, err)})
			os.Exit(2)
		}
		server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, server)
		bound = append(bound, ln.Addr().String())
		go func() { _ = server.Serve(ln) }()
	}
	out.print(map[string]any{"ready": true, "kind": "gojson", "listen": bound})
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	for _, server := range servers {
		_ = server.Close()
	}
}

func newHandler(out *printer) http.Handler {
	var seq atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := received{
			Time:       time.Now().UTC().Format(time.RFC3339Nano),
			HTTPMethod: r.Method,
			Target:     r.RequestURI,
			Host:       r.Host,
			Remote:     r.RemoteAddr,
		}
		if values, ok := r.Header["Authorization"]; ok {
			joined := strings.Join(values, ", ")
			base.Authorization = &joined
		}
		if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			base.Local = addr.String()
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
		var results []any
		for index := 0; ; index++ {
			var m message
			err := dec.Decode(&m)
			if errors.Is(err, io.EOF) {
				break
			}
			line := base
			line.Seq = seq.Add(1)
			line.Index = index
			if err != nil {
				line.Error = err.Error()
				out.print(line)
				break
			}
			line.Jsonrpc, line.ID, line.Method, line.Tool, line.Arguments = m.Jsonrpc, m.ID, m.Method, m.Params.Name, m.Params.Arguments
			out.print(line)
			results = append(results, map[string]any{
				"jsonrpc": "2.0",
				"id":      m.ID,
				"result": map[string]any{
					"content": []any{map[string]any{"type": "text", "text": fmt.Sprintf("gojson: %s %s", m.Method, m.Params.Name)}},
				},
			})
		}
		w.Header().Set("Content-Type", "application/json")
		switch len(results) {
		case 0:
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": nil, "error": map[string]any{"code": -32700, "message": "parse error: no JSON-RPC message decoded"}})
		case 1:
			_ = json.NewEncoder(w).Encode(results[0])
		default:
			_ = json.NewEncoder(w).Encode(results)
		}
	})
}
