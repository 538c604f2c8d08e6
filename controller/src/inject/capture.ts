// Traffic capture for iptables mode: the shell script the init container runs
// (with NET_ADMIN and NET_RAW, in the pod's network namespace only).
//
// IPv4 TCP the app opens is REDIRECTed to Envoy's outbound listener (locally
// generated packets are redirected to 127.0.0.1, where Envoy listens); the
// proxy UID (Envoy and the sidecar) and loopback are exempt. What Envoy cannot
// govern is refused rather than let through: IPv6 TCP (Envoy listens on IPv4
// only) and UDP other than DNS (QUIC would slip past an HTTP proxy). Re-running
// the script (a restarted sandbox) rebuilds the same rules.
import type { InjectOptions } from './options.js';

const CHAIN = 'AGENTWARDEN_OUTPUT';

export function captureScript(options: InjectOptions): string {
  const uid = options.proxyUid;
  const port = options.ports.outbound;
  return [
    'set -eu',
    `iptables -w -t nat -N ${CHAIN} 2>/dev/null || iptables -w -t nat -F ${CHAIN}`,
    `iptables -w -t nat -A ${CHAIN} -m owner --uid-owner ${uid} -j RETURN`,
    `iptables -w -t nat -A ${CHAIN} -o lo -j RETURN`,
    `iptables -w -t nat -A ${CHAIN} -d 127.0.0.0/8 -j RETURN`,
    `iptables -w -t nat -A ${CHAIN} -p tcp -j REDIRECT --to-ports ${port}`,
    `iptables -w -t nat -C OUTPUT -p tcp -j ${CHAIN} 2>/dev/null || iptables -w -t nat -A OUTPUT -p tcp -j ${CHAIN}`,
    `iptables -w -N ${CHAIN} 2>/dev/null || iptables -w -F ${CHAIN}`,
    `iptables -w -A ${CHAIN} -m owner --uid-owner ${uid} -j RETURN`,
    `iptables -w -A ${CHAIN} -o lo -j RETURN`,
    `iptables -w -A ${CHAIN} -p udp --dport 53 -j RETURN`,
    `iptables -w -A ${CHAIN} -p udp -j REJECT`,
    `iptables -w -C OUTPUT -j ${CHAIN} 2>/dev/null || iptables -w -A OUTPUT -j ${CHAIN}`,
    'if [ -e /proc/net/if_inet6 ]; then',
    `  ip6tables -w -N ${CHAIN} 2>/dev/null || ip6tables -w -F ${CHAIN}`,
    `  ip6tables -w -A ${CHAIN} -m owner --uid-owner ${uid} -j RETURN`,
    `  ip6tables -w -A ${CHAIN} -o lo -j RETURN`,
    `  ip6tables -w -A ${CHAIN} -p udp --dport 53 -j RETURN`,
    `  ip6tables -w -A ${CHAIN} -p tcp -j REJECT --reject-with tcp-reset`,
    `  ip6tables -w -A ${CHAIN} -p udp -j REJECT`,
    `  ip6tables -w -C OUTPUT -j ${CHAIN} 2>/dev/null || ip6tables -w -A OUTPUT -j ${CHAIN}`,
    'fi',
    '',
  ].join('\n');
}
