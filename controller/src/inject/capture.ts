// Traffic capture for iptables mode: the shell script the init container runs
// (with NET_ADMIN and NET_RAW, in the pod's network namespace only).
//
// Complete capture (DESIGN.md "Data plane"), IPv4 and IPv6 alike:
// - TCP the app opens is REDIRECTed to Envoy's outbound listener (IPv6 TCP is
//   refused: Envoy listens on IPv4 loopback);
// - DNS (UDP and TCP port 53) goes only to the pod's resolvers, read from
//   /etc/resolv.conf when the script runs (the kubelet writes the same file into
//   every container of the pod);
// - every other protocol (other UDP, UDP-Lite, ICMP, SCTP, raw IP) is refused.
// The proxy UID (Envoy and the sidecar) is exempt, but may not loop back into
// Envoy's own listener. Nobody in the pod reaches the sidecar's admin port, the
// former Envoy admin port or the sidecar's TCP ext_authz port: the kubelet's
// probes arrive from outside (INPUT), which these OUTPUT rules do not touch.
// Re-running the script (a restarted sandbox) rebuilds the same rules.
import type { InjectOptions } from './options.js';

const CHAIN = 'AGENTWARDEN_OUTPUT';

/** The resolvers of the pod, one per line: `nameserver` entries of /etc/resolv.conf, IPv4 or IPv6 by pattern. */
function resolvers(family: 4 | 6): string {
  const address = family === 4 ? '[0-9.]+' : '[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*';
  return `$(sed -nE 's/^[[:space:]]*nameserver[[:space:]]+(${address})[[:space:]]*$/\\1/p' /etc/resolv.conf 2>/dev/null)`;
}

/** Filter-table rules for one family ("iptables" or "ip6tables"). */
function filterRules(cmd: string, family: 4 | 6, options: InjectOptions): string[] {
  const uid = options.proxyUid;
  const own = [options.ports.sidecarAdmin, options.ports.envoyAdmin, options.ports.authz].join(',');
  const reject = family === 4 ? 'REJECT --reject-with icmp-admin-prohibited' : 'REJECT --reject-with adm-prohibited';
  return [
    `${cmd} -w -N ${CHAIN} 2>/dev/null || ${cmd} -w -F ${CHAIN}`,
    // agentwarden's own ports: for no one in the pod (Envoy reaches the sidecar over a Unix socket).
    `${cmd} -w -A ${CHAIN} -o lo -p tcp -m multiport --dports ${own} -j REJECT --reject-with tcp-reset`,
    // Envoy must not be steered into its own listener (a loop) by a name that resolves to loopback.
    `${cmd} -w -A ${CHAIN} -o lo -p tcp --dport ${options.ports.outbound} -m owner --uid-owner ${uid} -j REJECT --reject-with tcp-reset`,
    `${cmd} -w -A ${CHAIN} -m owner --uid-owner ${uid} -j RETURN`,
    `${cmd} -w -A ${CHAIN} -o lo -j RETURN`,
    `for ns in ${resolvers(family)}; do`,
    `  ${cmd} -w -A ${CHAIN} -d "$ns" -p udp --dport 53 -j RETURN`,
    `  ${cmd} -w -A ${CHAIN} -d "$ns" -p tcp --dport 53 -j RETURN`,
    'done',
    ...(family === 4 ? [`${cmd} -w -A ${CHAIN} -p tcp -j RETURN`] : [
      `${cmd} -w -A ${CHAIN} -p tcp -j REJECT --reject-with tcp-reset`,
      // Neighbour discovery (the kernel's own, no socket owner): IPv6 does not work without it, for Envoy either.
      ...['router-solicitation', 'neighbour-solicitation', 'neighbour-advertisement'].map((t) => `${cmd} -w -A ${CHAIN} -p ipv6-icmp --icmpv6-type ${t} -j RETURN`),
    ]),
    `${cmd} -w -A ${CHAIN} -j ${reject}`,
    `${cmd} -w -C OUTPUT -j ${CHAIN} 2>/dev/null || ${cmd} -w -A OUTPUT -j ${CHAIN}`,
  ];
}

export function captureScript(options: InjectOptions): string {
  const uid = options.proxyUid;
  const port = options.ports.outbound;
  return [
    'set -eu',
    `iptables -w -t nat -N ${CHAIN} 2>/dev/null || iptables -w -t nat -F ${CHAIN}`,
    `iptables -w -t nat -A ${CHAIN} -m owner --uid-owner ${uid} -j RETURN`,
    `iptables -w -t nat -A ${CHAIN} -o lo -j RETURN`,
    `iptables -w -t nat -A ${CHAIN} -d 127.0.0.0/8 -j RETURN`,
    // TCP DNS to the pod's resolvers (truncated answers) is DNS, not HTTP: it goes out unchanged.
    `for ns in ${resolvers(4)}; do`,
    `  iptables -w -t nat -A ${CHAIN} -d "$ns" -p tcp --dport 53 -j RETURN`,
    'done',
    `iptables -w -t nat -A ${CHAIN} -p tcp -j REDIRECT --to-ports ${port}`,
    `iptables -w -t nat -C OUTPUT -p tcp -j ${CHAIN} 2>/dev/null || iptables -w -t nat -A OUTPUT -p tcp -j ${CHAIN}`,
    ...filterRules('iptables', 4, options),
    'if [ -e /proc/net/if_inet6 ]; then',
    ...filterRules('ip6tables', 6, options).map((l) => `  ${l}`),
    'fi',
    '',
  ].join('\n');
}
