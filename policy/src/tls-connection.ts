// A CheckRequest from Envoy's network ext_authz filter on a TLS filter chain:
// TLS that the agent opened itself, without TLS origination (DESIGN.md "Data
// plane"). Envoy sees no HTTP inside, only the SNI (attributes.tls_session.sni,
// with include_tls_session: true) and the original destination port
// (attributes.destination.address.socket_address.port_value). The connection is
// decided on those by host- and port-level rules (evaluate.ts keeps rules with
// http, mcp or when constraints from allowing it).
import type { AttributeContextFields } from './check-request.js';
import { parseAuthority, type Authority } from './hosts.js';
import type { RequestRead } from './request-view.js';

const NO_SEGMENTS: readonly string[] = [];
const NO_HEADERS: ReadonlyMap<string, string> = new Map();

export function readTlsConnection(a: AttributeContextFields): RequestRead {
  const sni = a.tlsSession?.sni ?? '';
  const address = a.destination?.address?.address;
  const port = address?.case === 'socketAddress' && address.value.portSpecifier.case === 'portValue' ? address.value.portSpecifier.value : 0;
  const fail = (reason: string): RequestRead => ({ ok: false, reason, method: '', host: sni.slice(0, 256), path: '' });
  if (sni === '') return fail('TLS connection without SNI: there is no host to decide on (the agent must send a server name, or use TLS origination)');
  if (/[:[\]]/.test(sni)) return fail('TLS SNI is not a host name');
  const auth = parseAuthority(sni, 'https');
  if (!auth.ok) return fail(`TLS SNI: ${auth.reason}`);
  if (auth.ipLiteral) return fail(`TLS SNI "${auth.host}" is an IP address; SNI names a host`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return fail('TLS connection without a destination port (attributes.destination.address.socket_address.port_value)');
  return {
    ok: true,
    view: {
      kind: 'tls', method: '', host: auth.host, ipLiteral: false, port, path: '', segments: NO_SEGMENTS, foldedSegments: NO_SEGMENTS, rawQuery: '',
      timeMs: undefined, headers: NO_HEADERS, ownHeadersSent: NO_SEGMENTS, body: null, bodyNote: undefined, bodyUnreadable: false, mcp: undefined,
    },
  };
}

/**
 * A CONNECT tunnel that Envoy passes through unopened (HTTPS_PROXY to port 443):
 * like TLS the agent opens itself, decided on its authority's host and port.
 */
export function connectTunnelView(auth: Extract<Authority, { ok: true }>, timeMs: number | undefined): Extract<RequestRead, { ok: true }>['view'] {
  return {
    kind: 'tls', method: 'CONNECT', host: auth.host, ipLiteral: auth.ipLiteral, port: auth.port, path: '', segments: NO_SEGMENTS, foldedSegments: NO_SEGMENTS, rawQuery: '',
    timeMs, headers: NO_HEADERS, ownHeadersSent: NO_SEGMENTS, body: null, bodyNote: undefined, bodyUnreadable: false, mcp: undefined,
  };
}
