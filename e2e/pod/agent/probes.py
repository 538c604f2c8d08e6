#!/usr/bin/env python3
"""Protocol probes the pod harness runs as the agent (or as root in the pod) to
show that capture refuses what Envoy cannot govern. One probe per run; prints
one JSON line {"probe", "target", "sent", "error"} and exits 0 either way.

  probes.py icmp HOST          ICMP echo over an unprivileged ping socket (needs ping_group_range)
  probes.py icmp6 HOST         the same over IPv6
  probes.py udplite HOST PORT  one UDP-Lite datagram (IP protocol 136)
  probes.py raw HOST           one raw IPv4 datagram of protocol 253 (needs CAP_NET_RAW: root)
  probes.py udp6 HOST PORT     one UDP datagram over IPv6
  probes.py tcp6 HOST PORT     a TCP connection over IPv6
"""
import json
import socket
import sys


def probe(kind, args):
    if kind == "icmp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
        s.sendto(b"\x08\x00\x00\x00\x00\x01\x00\x01agentwarden", (args[0], 0))
    elif kind == "icmp6":
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_ICMPV6)
        s.sendto(b"\x80\x00\x00\x00\x00\x01\x00\x01agentwarden", (args[0], 0))
    elif kind == "udplite":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 136)
        s.sendto(b"agentwarden", (args[0], int(args[1])))
    elif kind == "raw":
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 253)
        s.sendto(b"agentwarden", (args[0], 0))
    elif kind == "udp6":
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.sendto(b"agentwarden", (args[0], int(args[1])))
    elif kind == "tcp6":
        s = socket.create_connection((args[0], int(args[1])), timeout=3)
    else:
        raise SystemExit(f"unknown probe {kind}")
    s.close()


def main():
    kind, args = sys.argv[1], sys.argv[2:]
    result = {"probe": kind, "target": args, "sent": False, "error": None}
    try:
        probe(kind, args)
        result["sent"] = True
    except OSError as e:
        result["error"] = {"errno": e.errno, "name": __import__("errno").errorcode.get(e.errno, str(e.errno)), "message": e.strerror}
    print(json.dumps(result))


main()
