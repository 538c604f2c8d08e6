// The floor of the sidecar's memory: Node 24 serving Check on the sidecar's
// own HTTP/2 framing with one fixed answer, no policy, no decision, no audit
// spans, and a node:http health endpoint like the admin server's. What the
// sidecar holds beyond this process is what deciding and auditing cost.
//   node dist/bench/memory/bare-responder.js <grpc port> <health port>
import { createServer } from 'node:http';
import { startHttp2AuthzServer } from '../../sidecar/src/authz/http2-server.js';
import { encodeCheckResponse } from '../../sidecar/src/authz/response-wire.js';

const [grpcPort, healthPort] = process.argv.slice(2);
const answer = encodeCheckResponse({
  allowed: true, mode: 'Enforce', policy: 'bench', rule: 'fixed-answer', reason: 'fixed answer',
  auditDecision: null, headers: [], request: undefined,
}, '0af7651916cd43dd8448eb211c80319c');
await startHttp2AuthzServer(`127.0.0.1:${grpcPort ?? '0'}`, () => answer, 1 << 20);
createServer((_req, res) => { res.end('ok'); }).listen(Number(healthPort), '127.0.0.1');
