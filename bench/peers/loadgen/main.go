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
	P50, P99, P999, Max                 float64 // latency, ms
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
	rate := flag.Float64("rate", 1000, "requests per second")
	n := flag.Int("n", 1000, "requests to send (bounds the run)")
	timeout := flag.Duration("timeout", 5*time.Second, "per-request deadline")
	out := flag.String("out", "", "write the JSON result here (default stdout)")
	flag.Parse()
	if *addr == "" || *method == "" || *data == "" || *rate <= 0 || *n <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	msgs, err := readFrames(*data)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	defer conn.Close()
	// Connect and make one call before the clock starts.
	conn.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	for s := conn.GetState(); s != connectivity.Ready; s = conn.GetState() {
		if !conn.WaitForStateChange(ctx, s) {
			fmt.Fprintln(os.Stderr, "loadgen: cannot connect to", *addr)
			os.Exit(1)
		}
	}
	var reply []byte
	if err := conn.Invoke(ctx, *method, &msgs[0], &reply); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: first call failed:", err)
		os.Exit(1)
	}
	cancel()

	latency := make([]float64, *n)
	service := make([]float64, *n)
	failed := make([]error, *n)
	var wg sync.WaitGroup
	late := 0
	interval := float64(time.Second) / *rate
	start := time.Now().Add(2 * time.Millisecond)
	for i := 0; i < *n; i++ {
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
			req := msgs[i%len(msgs)]
			var resp []byte
			ctx, cancel := context.WithTimeout(context.Background(), *timeout)
			sent := time.Now()
			err := conn.Invoke(ctx, *method, &req, &resp)
			done := time.Now()
			cancel()
			failed[i] = err
			latency[i] = float64(done.Sub(due).Nanoseconds()) / 1000
			service[i] = float64(done.Sub(sent).Nanoseconds()) / 1000
		}(i, due)
	}
	wg.Wait()
	elapsed := time.Since(start)

	r := result{Sent: *n, Seconds: elapsed.Seconds(), AchievedRPS: float64(*n) / elapsed.Seconds(), LateSends: late}
	for i := 0; i < *n; i++ {
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
	}
	l := append([]float64(nil), r.LatencyUs...)
	s := append([]float64(nil), r.ServiceUs...)
	sort.Float64s(l)
	sort.Float64s(s)
	r.Summary = summary{P50: pct(l, 0.5), P99: pct(l, 0.99), P999: pct(l, 0.999), Max: pct(l, 1),
		ServiceP50: pct(s, 0.5), ServiceP99: pct(s, 0.99), ServiceP999: pct(s, 0.999)}

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
