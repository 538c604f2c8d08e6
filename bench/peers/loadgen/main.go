// loadgen: open-loop, fixed-rate load on one unary gRPC method, for make bench.
//
// Request i is due at start + i/rate and is sent then, whether or not earlier
// requests were answered (one goroutine per request), so a stalled server meets
// a growing queue exactly as it would in production. Latency is measured from the
// time a request was due, not from when it left (no coordinated omission); the
// service time, from when it left, is reported too.
//
// Request bodies are raw gRPC frames (5-byte header + protobuf bytes, the files
// h2load -d sends), cycled in order: the load generator needs no schema and
// spends no time encoding. Every latency is kept (runs are bounded by -n), so the
// percentiles are exact.
//
//	loadgen -addr 127.0.0.1:15011 -method /envoy.service.auth.v3.Authorization/Check \
//	  -data mix.frames -rate 1000 -n 6000 -out result.json
//
// HTTP mode (make bench-e2e, http.go): HTTP/1.1 requests through a forward proxy, as an
// agent with HTTP_PROXY sends them; open loop on a pool of keep-alive connections, or
// closed loop on one connection (-closed).
//
//	loadgen -http-proxy http://127.0.0.1:15001 -requests mix.json -rate 1000 -n 10000 \
//	  -warmup 2000 -out result.json
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
)

// rawCodec passes message bytes through. Named "proto" so that the request's
// content-type is application/grpc+proto, which every gRPC server accepts.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	p := v.(*[]byte)
	*p = append((*p)[:0], data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

var _ encoding.Codec = rawCodec{}

type result struct {
	Sent        int       `json:"sent"`
	OK          int       `json:"ok"`
	Errors      int       `json:"errors"`
	ErrorSample []string  `json:"errorSample"`
	Seconds     float64   `json:"seconds"`
	AchievedRPS float64   `json:"achievedRps"`
	LateSends   int       `json:"lateSends"` // sent more than 1 ms after due
	LatencyUs   []float64 `json:"latencyUs"` // due -> answered, answered requests only
	ServiceUs   []float64 `json:"serviceUs"` // sent -> answered
	Summary     summary   `json:"summary"`
}

type summary struct {
	P50, P99, P999, Max, Mean           float64 // latency, ms
	ServiceP50, ServiceP99, ServiceP999 float64 // service time, ms
}

func readFrames(file string) ([][]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var msgs [][]byte
	for len(b) > 0 {
		if len(b) < 5 || b[0] != 0 {
			return nil, fmt.Errorf("%s: not a sequence of uncompressed gRPC frames", file)
		}
		n := int(binary.BigEndian.Uint32(b[1:5]))
		if len(b) < 5+n {
			return nil, fmt.Errorf("%s: truncated frame", file)
		}
		msgs = append(msgs, b[5:5+n])
		b = b[5+n:]
	}
	if len(msgs) == 0 {
		return nil, errors.New(file + ": no frames")
	}
	return msgs, nil
}

func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1 // nearest rank
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i] / 1000
}

func main() {
	addr := flag.String("addr", "", "server host:port")
	method := flag.String("method", "", "full method, /package.Service/Method")
	data := flag.String("data", "", "file of gRPC frames, sent in turn")
	httpProxy := flag.String("http-proxy", "", "HTTP mode: the forward proxy, http://host:port (instead of -addr, -method, -data)")
	requests := flag.String("requests", "", "HTTP mode: JSON file of requests [{method, url, headers, body}], sent in turn; any answer but 200 is an error")
	warmup := flag.Int("warmup", 0, "HTTP mode: requests sent first at the same rate on the same connections, not counted")
	closed := flag.Bool("closed", false, "HTTP mode: closed loop on one connection, each request sent when the last is answered (-rate unused)")
	rate := flag.Float64("rate", 1000, "requests per second")
	n := flag.Int("n", 1000, "requests to send (bounds the run)")
	timeout := flag.Duration("timeout", 5*time.Second, "per-request deadline")
	out := flag.String("out", "", "write the JSON result here (default stdout)")
	flag.Parse()
	var r result
	var err error
	switch {
	case *httpProxy != "" && *requests != "" && *rate > 0 && *n > 0 && *warmup >= 0:
		r, err = runHTTP(httpOptions{proxy: *httpProxy, requests: *requests, warmup: *warmup, closed: *closed, rate: *rate, n: *n, timeout: *timeout})
	case *addr != "" && *method != "" && *data != "" && *rate > 0 && *n > 0:
		r, err = runGRPC(*addr, *method, *data, *rate, *n, *timeout)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	w := os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		defer f.Close()
		w = f
	}
	if err := json.NewEncoder(w).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	if *out != "" {
		fmt.Printf("loadgen: %d sent at %.0f req/s, %d ok, %d errors, p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms\n",
			r.Sent, r.AchievedRPS, r.OK, r.Errors, r.Summary.P50, r.Summary.P99, r.Summary.P999)
	}
}

func runGRPC(addr, method, data string, rate float64, n int, timeout time.Duration) (result, error) {
	msgs, err := readFrames(data)
	if err != nil {
		return result{}, err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		return result{}, err
	}
	defer conn.Close()
	// Connect and make one call before the clock starts.
	conn.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for s := conn.GetState(); s != connectivity.Ready; s = conn.GetState() {
		if !conn.WaitForStateChange(ctx, s) {
			return result{}, errors.New("cannot connect to " + addr)
		}
	}
	var reply []byte
	if err := conn.Invoke(ctx, method, &msgs[0], &reply); err != nil {
		return result{}, fmt.Errorf("first call failed: %w", err)
	}
	return openLoop(n, rate, func(i int) error {
		req := msgs[i%len(msgs)]
		var resp []byte
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return conn.Invoke(ctx, method, &req, &resp)
	}), nil
}

// openLoop sends call(i) at start + i/rate, each in its own goroutine, whatever
// the earlier calls do, and returns the result with every latency.
func openLoop(n int, rate float64, call func(i int) error) result {
	latency := make([]float64, n)
	service := make([]float64, n)
	failed := make([]error, n)
	var wg sync.WaitGroup
	late := 0
	interval := float64(time.Second) / rate
	start := time.Now().Add(2 * time.Millisecond)
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(float64(i) * interval))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		if time.Since(due) > time.Millisecond {
			late++
		}
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			sent := time.Now()
			failed[i] = call(i)
			done := time.Now()
			latency[i] = float64(done.Sub(due).Nanoseconds()) / 1000
			service[i] = float64(done.Sub(sent).Nanoseconds()) / 1000
		}(i, due)
	}
	wg.Wait()
	r := collect(latency, service, failed, time.Since(start))
	r.LateSends = late
	return r
}

// collect turns per-request latencies (µs) and errors into a result.
func collect(latency, service []float64, failed []error, elapsed time.Duration) result {
	n := len(latency)
	r := result{Sent: n, Seconds: elapsed.Seconds(), AchievedRPS: float64(n) / elapsed.Seconds()}
	sum := 0.0
	for i := 0; i < n; i++ {
		if failed[i] != nil {
			r.Errors++
			if len(r.ErrorSample) < 5 {
				r.ErrorSample = append(r.ErrorSample, failed[i].Error())
			}
			continue
		}
		r.OK++
		r.LatencyUs = append(r.LatencyUs, latency[i])
		r.ServiceUs = append(r.ServiceUs, service[i])
		sum += latency[i]
	}
	l := append([]float64(nil), r.LatencyUs...)
	s := append([]float64(nil), r.ServiceUs...)
	sort.Float64s(l)
	sort.Float64s(s)
	r.Summary = summary{P50: pct(l, 0.5), P99: pct(l, 0.99), P999: pct(l, 0.999), Max: pct(l, 1),
		ServiceP50: pct(s, 0.5), ServiceP99: pct(s, 0.99), ServiceP999: pct(s, 0.999)}
	if r.OK > 0 {
		r.Summary.Mean = sum / float64(r.OK) / 1000
	}
	return r
}
