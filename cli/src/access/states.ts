// The states of an AgentAccessRequest that `agentwarden requests --state` filters on.
import type { AccessRequestState } from '../../../policy/src/index.js';

export const STATES: readonly AccessRequestState[] = ['Pending', 'Approved', 'Denied', 'Expired', 'ReviewRequired', 'Reviewed'];
export const DEFAULT_STATES: readonly AccessRequestState[] = ['Pending', 'Approved', 'ReviewRequired'];
