// admission.k8s.io/v1 AdmissionReview: reading a request and writing the
// response the API server expects (same apiVersion and kind, response.uid =
// request.uid). Pure.
import { isJsonObject, type JsonObject, type JsonValue } from '../inject/json.js';
import type { JsonPatchOperation } from '../inject/patch.js';

export const REVIEW_API_VERSION = 'admission.k8s.io/v1';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: { readonly group: string; readonly version: string; readonly kind: string };
  readonly subResource: string;
  readonly namespace: string;
  readonly name: string;
  readonly operation: Operation;
  readonly dryRun: boolean;
  /** The object as it would be stored (after earlier mutating webhooks); undefined on DELETE. */
  readonly object: JsonObject | undefined;
  /** The stored object on UPDATE and DELETE. */
  readonly oldObject: JsonObject | undefined;
  /** Who the API server authenticated (request.userInfo); "" when absent. */
  readonly userInfo: { readonly username: string; readonly groups: readonly string[] };
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: { readonly code: number; readonly reason?: string; readonly message: string };
  readonly patchType?: 'JSONPatch';
  /** base64 of the JSON patch */
  readonly patch?: string;
  readonly warnings?: readonly string[];
}

export type ParsedReview = { readonly ok: true; readonly request: AdmissionRequest } | { readonly ok: false; readonly error: string };

const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];
const MAX_WARNINGS = 16;
const MAX_WARNING_LENGTH = 256;

/** Reads an AdmissionReview body; every problem is named so a 400 says what was wrong. */
export function parseReview(body: unknown): ParsedReview {
  if (!isJsonObject(body)) return { ok: false, error: 'the body is not a JSON object' };
  if (body['apiVersion'] !== REVIEW_API_VERSION || body['kind'] !== 'AdmissionReview') {
    return { ok: false, error: `expected apiVersion ${REVIEW_API_VERSION}, kind AdmissionReview; got ${describe(body['apiVersion'])}, ${describe(body['kind'])}` };
  }
  const request = body['request'];
  if (!isJsonObject(request)) return { ok: false, error: 'request: required' };
  const uid = request['uid'];
  if (typeof uid !== 'string' || uid === '') return { ok: false, error: 'request.uid: required' };
  const operation = request['operation'];
  if (typeof operation !== 'string' || !OPERATIONS.includes(operation)) return { ok: false, error: `request.operation: ${describe(operation)} is not CREATE, UPDATE, DELETE or CONNECT` };
  const kind = isJsonObject(request['kind']) ? request['kind'] : {};
  const object = request['object'];
  const oldObject = request['oldObject'];
  if (object !== undefined && object !== null && !isJsonObject(object)) return { ok: false, error: 'request.object: must be an object' };
  if (oldObject !== undefined && oldObject !== null && !isJsonObject(oldObject)) return { ok: false, error: 'request.oldObject: must be an object' };
  return {
    ok: true,
    request: {
      uid,
      kind: { group: str(kind['group']), version: str(kind['version']), kind: str(kind['kind']) },
      subResource: str(request['subResource']),
      namespace: str(request['namespace']),
      name: str(request['name']),
      operation: operation as Operation,
      dryRun: request['dryRun'] === true,
      object: isJsonObject(object) ? object : undefined,
      oldObject: isJsonObject(oldObject) ? oldObject : undefined,
      userInfo: userInfoOf(request['userInfo']),
    },
  };
}

function userInfoOf(v: JsonValue | undefined): AdmissionRequest['userInfo'] {
  if (!isJsonObject(v)) return { username: '', groups: [] };
  const groups = v['groups'];
  return { username: str(v['username']), groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [] };
}

function str(v: JsonValue | undefined): string {
  return typeof v === 'string' ? v : '';
}

function describe(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 60);
}

/** Admission warnings are shown verbatim by kubectl: one line each, bounded in length and number. */
export function boundWarnings(warnings: readonly string[]): string[] {
  const clean = warnings.map((w) => {
    const line = [...w].map((ch) => (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f ? ' ' : ch)).join('');
    return line.length > MAX_WARNING_LENGTH ? `${line.slice(0, MAX_WARNING_LENGTH - 3)}...` : line;
  });
  return clean.length > MAX_WARNINGS ? [...clean.slice(0, MAX_WARNINGS - 1), `${clean.length - MAX_WARNINGS + 1} more warnings not shown`] : clean;
}

export function allow(uid: string, extra: { readonly patch?: readonly JsonPatchOperation[]; readonly warnings?: readonly string[] } = {}): AdmissionResponse {
  const warnings = boundWarnings(extra.warnings ?? []);
  return {
    uid,
    allowed: true,
    ...(extra.patch !== undefined && extra.patch.length > 0 ? { patchType: 'JSONPatch' as const, patch: Buffer.from(JSON.stringify(extra.patch)).toString('base64') } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

export function deny(uid: string, code: number, reason: string, message: string, warnings: readonly string[] = []): AdmissionResponse {
  const bounded = boundWarnings(warnings);
  return { uid, allowed: false, status: { code, reason, message }, ...(bounded.length > 0 ? { warnings: bounded } : {}) };
}

export function reviewResponse(response: AdmissionResponse): { apiVersion: string; kind: string; response: AdmissionResponse } {
  return { apiVersion: REVIEW_API_VERSION, kind: 'AdmissionReview', response };
}
