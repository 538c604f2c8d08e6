// The floor of the sidecar: Node 24 serving Check on the sidecar's own HTTP/2
// framing with one fixed answer, no policy, no decision, no audit spans, and a
// node:http health endpoint like the admin server's. What the sidecar holds (make
// bench-memory) or adds through Envoy (make bench-e2e, engine floor-node) beyond
// this process is what deciding and auditing cost.
//   node dist/bench/memory/bare-responder.js <grpc port | unix:/path> <health port>
import { createServer } from 'node:http';
import { startHttp2AuthzServer } from '../../sidecar/src/authz/http2-server.js';
import { FIXED_ANSWER } from './fixed-answer.js';

const [listen = '0', healthPort = '0'] = process.argv.slice(2);
await startHttp2AuthzServer(listen.startsWith('unix:') ? listen : `127.0.0.1:${listen}`, () => FIXED_ANSWER, 1 << 20);
createServer((_req, res) => { res.end('ok'); }).listen(Number(healthPort), '127.0.0.1');
