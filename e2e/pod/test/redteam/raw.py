#!/usr/bin/env python3
"""Red-team raw TCP client, run as the agent in the pod.

  raw.py HOST PORT SPEC_JSON
SPEC_JSON: {"parts": [hex...], "gap_ms": 300, "read_ms": 2500, "tls_sni": null}
Writes each part (hex-encoded bytes) with gap_ms between them, then reads until the
peer closes or nothing came for read_ms. Prints {"connected", "received" (latin-1), "error"}.
"""
import json
import socket
import ssl
import sys
import time


def main():
    host, port, spec = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    out = {"connected": False, "received": "", "error": None}
    try:
        s = socket.create_connection((host, port), timeout=5)
        out["connected"] = True
        if spec.get("tls_sni"):
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s, server_hostname=spec["tls_sni"])
        s.settimeout(spec.get("read_ms", 2500) / 1000)
        buf = b""
        for i, part in enumerate(spec["parts"]):
            if i > 0:
                time.sleep(spec.get("gap_ms", 300) / 1000)
                try:
                    s.settimeout(0.05)
                    buf += s.recv(65536)
                except Exception:
                    pass
                s.settimeout(spec.get("read_ms", 2500) / 1000)
            s.sendall(bytes.fromhex(part))
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            buf += chunk
        out["received"] = buf.decode("latin-1")
    except Exception as e:  # noqa: BLE001
        out["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out))


main()
