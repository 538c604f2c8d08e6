module agentwarden/e2e/pod/gojson

go 1.24
