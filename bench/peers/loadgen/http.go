// HTTP mode: HTTP/1.1 through a forward proxy (the agent's HTTP_PROXY), for make
// bench-e2e. Requests go in absolute form (GET http://api.github.com/... HTTP/1.1),
// as Go, curl or Python send them to an HTTP proxy. Every answer but a 200 is an
// error: a run in which the proxy denied or failed a request is not a figure.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

type httpRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

type httpOptions struct {
	proxy, requests string
	warmup          int
	closed          bool
	rate            float64
	n               int
	timeout         time.Duration
}

// maxErrorBody bounds how much of a failed answer's body an error quotes.
const maxErrorBody = 160

func readRequests(file string) ([]httpRequest, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var reqs []httpRequest
	if err := json.Unmarshal(b, &reqs); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%s: no requests", file)
	}
	for i, r := range reqs {
		if r.Method == "" || !strings.HasPrefix(r.URL, "http://") {
			return nil, fmt.Errorf("%s: request %d: needs a method and an http:// url", file, i)
		}
	}
	return reqs, nil
}

func runHTTP(o httpOptions) (result, error) {
	reqs, err := readRequests(o.requests)
	if err != nil {
		return result{}, err
	}
	proxy, err := url.Parse(o.proxy)
	if err != nil || proxy.Scheme != "http" {
		return result{}, fmt.Errorf("-http-proxy %q: not an http://host:port URL", o.proxy)
	}
	transport := &http.Transport{
		Proxy:               http.ProxyURL(proxy),
		MaxIdleConnsPerHost: 4096, // keep every connection the rate needed: no reconnects mid-run
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	if o.closed {
		transport.MaxConnsPerHost = 1
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: o.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(i int) error { return sendHTTP(client, reqs[i%len(reqs)]) }

	if o.closed {
		if err := send(0); err != nil { // connect before the clock starts
			return result{}, fmt.Errorf("first request failed: %w", err)
		}
		return closedLoop(o.n, send), nil
	}
	if o.warmup > 0 {
		if w := openLoop(o.warmup, o.rate, send); w.Errors > 0 {
			return result{}, fmt.Errorf("warm-up: %d of %d requests failed, e.g. %s", w.Errors, w.Sent, w.ErrorSample[0])
		}
	}
	return openLoop(o.n, o.rate, send), nil
}

func sendHTTP(client *http.Client, r httpRequest) error {
	var body io.Reader
	if r.Body != "" {
		body = strings.NewReader(r.Body)
	}
	req, err := http.NewRequest(r.Method, r.URL, body)
	if err != nil {
		return err
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", r.Method, r.URL, resp.Status, head)
	}
	return nil
}

// closedLoop sends call(i) when call(i-1) has returned; latency is the service time.
func closedLoop(n int, call func(i int) error) result {
	latency := make([]float64, n)
	failed := make([]error, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		sent := time.Now()
		failed[i] = call(i)
		latency[i] = float64(time.Since(sent).Nanoseconds()) / 1000
	}
	return collect(latency, latency, failed, time.Since(start))
}
