// The floor of the sidecar: Node 24 serving Check on the sidecar's own HTTP/2
// framing with one fixed answer, no policy, no decision, no audit spans, and a
// node:http endpoint like the admin server's: any path answers 200, /metrics
// with the sidecar's own runtime figures (RSS, V8 heap, event-loop delay:
// sidecar/src/telemetry/runtime-metrics.ts). What the sidecar holds (make
// bench-memory), adds through Envoy (make bench-e2e, engine floor-node) or
// holds steady under a fixed rate (make soak-floor) beyond this process is what
// deciding and auditing cost.
//   node dist/bench/memory/bare-responder.js <grpc port | unix:/path> <health port>
import { createServer } from 'node:http';
import { PROMETHEUS_CONTENT_TYPE, renderExposition } from '../../common/prometheus.js';
import { startHttp2AuthzServer } from '../../sidecar/src/authz/http2-server.js';
import { runtimeFamilies, startRuntimeMetrics } from '../../sidecar/src/telemetry/runtime-metrics.js';
import { FIXED_ANSWER } from './fixed-answer.js';

const [listen = '0', healthPort = '0'] = process.argv.slice(2);
startRuntimeMetrics({ gc: false });
await startHttp2AuthzServer(listen.startsWith('unix:') ? listen : `127.0.0.1:${listen}`, () => FIXED_ANSWER, 1 << 20);
createServer((req, res) => {
  if (req.url === '/metrics') {
    res.setHeader('content-type', PROMETHEUS_CONTENT_TYPE);
    res.end(renderExposition(runtimeFamilies()));
    return;
  }
  res.end('ok');
}).listen(Number(healthPort), '127.0.0.1');
