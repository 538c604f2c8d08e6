// The one CheckResponse the floor servers answer every Check with (make bench-memory's
// bare responder, make bench-e2e's floor-node and floor-go): an allow, encoded once by
// the sidecar's own encoder, so Envoy reads the same bytes it reads from the sidecar's allows.
import { encodeCheckResponse } from '../../sidecar/src/authz/response-wire.js';

export const FIXED_ANSWER: Uint8Array = encodeCheckResponse({
  allowed: true, mode: 'Enforce', policy: 'bench', rule: 'fixed-answer', reason: 'fixed answer',
  auditDecision: null, headers: [], request: undefined,
}, '0af7651916cd43dd8448eb211c80319c');
