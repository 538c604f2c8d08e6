package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func decodeLines(t *testing.T, out *bytes.Buffer) []received {
	t.Helper()
	var lines []received
	for _, text := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var line received
		if err := json.Unmarshal([]byte(text), &line); err != nil {
			t.Fatalf("output line %q: %v", text, err)
		}
		lines = append(lines, line)
	}
	return lines
}

func TestDecodesConcatenatedMessagesWithCaseInsensitiveLastWinsKeys(t *testing.T) {
	var out bytes.Buffer
	handler := newHandler(&printer{enc: json.NewEncoder(&out)})
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_tickets","arguments":{"query":"x"}}}` +
		"\n" + `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_tickets","NAME":"delete_customer","arguments":{"id":"c1"}}}`
	req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer t")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)

	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200", rec.Code)
	}
	lines := decodeLines(t, &out)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %s", len(lines), out.String())
	}
	if lines[0].Tool != "search_tickets" || lines[1].Tool != "delete_customer" {
		t.Errorf("tools %q, %q; want search_tickets, delete_customer (NAME, the last duplicate, wins)", lines[0].Tool, lines[1].Tool)
	}
	if lines[1].Authorization == nil || *lines[1].Authorization != "Bearer t" || lines[1].Index != 1 {
		t.Errorf("line 2: %+v", lines[1])
	}
	var results []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &results); err != nil || len(results) != 2 {
		t.Errorf("body %s: want an array of 2 results (%v)", rec.Body.String(), err)
	}
}

func TestAnswersParseErrorWhenNothingDecodes(t *testing.T) {
	var out bytes.Buffer
	handler := newHandler(&printer{enc: json.NewEncoder(&out)})
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{"method":`)))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", rec.Code)
	}
	lines := decodeLines(t, &out)
	if len(lines) != 1 || lines[0].Error == "" || lines[0].Authorization != nil {
		t.Errorf("lines %+v: want one error line without authorization", lines)
	}
}
