// Decision -> Envoy CheckResponse (pure). Allow: OkHttpResponse with the
// decision header and credential headers, removing the x-agentwarden-* headers
// the agent sent. Deny: DeniedHttpResponse 403 with a JSON body {error, policy,
// rule, reason, decisionId} (a RequireApproval deny adds approvalRequest,
// namespace and retry), or, for an MCP request with an id, 200 with a
// JSON-RPC error carrying that id (denial.ts says why); gRPC status
// PERMISSION_DENIED either way (all that Envoy's network ext_authz reads).
import { create } from '@bufbuild/protobuf';
import { CheckResponseSchema, type CheckResponse } from '../../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { HeaderValueOption_HeaderAppendAction } from '../../../proto/gen/envoy/config/core/v3/base_pb.js';
import { StatusCode } from '../../../proto/gen/envoy/type/v3/http_status_pb.js';
import type { Decision } from '../../../policy/src/index.js';
import { AUDIT_HEADER, DECISION_HEADER, DECISION_ID_HEADER, RULE_HEADER, deniedBody, deniedStatus, upstreamHeadersToRemove } from './denial.js';

const GRPC_OK = 0;
const GRPC_PERMISSION_DENIED = 7;

function header(key: string, value: string): { header: { key: string; value: string }; appendAction: HeaderValueOption_HeaderAppendAction } {
  return { header: { key, value }, appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD };
}

/** `namespace`: the pod's, named in a RequireApproval deny (the AgentAccessRequest lives there). */
export function checkResponse(d: Decision, decisionId: string, namespace = ''): CheckResponse {
  const auditPair: (readonly [string, string])[] = d.auditDecision === null ? [] : [[AUDIT_HEADER, d.auditDecision.allowed ? 'allow' : 'deny']];
  const audit = auditPair.map(([k, v]) => header(k, v));
  if (d.allowed) {
    const set = [[DECISION_HEADER, 'allow'] as const, ...auditPair, ...d.headers];
    return create(CheckResponseSchema, {
      status: { code: GRPC_OK },
      httpResponse: {
        case: 'okResponse',
        value: {
          // Upstream sees the decision and the injected credentials.
          headers: set.map(([k, v]) => header(k, v)),
          // ...and none of the x-agentwarden-* headers the agent made up.
          headersToRemove: upstreamHeadersToRemove(d, set),
          // The agent sees which rule allowed it and the decision id, not the credentials.
          responseHeadersToAdd: [header(DECISION_ID_HEADER, decisionId), header(RULE_HEADER, `${d.policy}/${d.rule}`)],
        },
      },
    });
  }
  const body = deniedBody(d, decisionId, namespace);
  return create(CheckResponseSchema, {
    status: { code: GRPC_PERMISSION_DENIED, message: d.reason },
    httpResponse: {
      case: 'deniedResponse',
      value: {
        status: { code: deniedStatus(d) === 200 ? StatusCode.OK : StatusCode.Forbidden },
        headers: [header('content-type', 'application/json'), header(DECISION_HEADER, 'deny'), header(DECISION_ID_HEADER, decisionId), ...audit],
        body,
      },
    },
  });
}
