// A decision span's attributes written straight from the decision: the bytes
// writeAttributes(w, decisionAttributes(d, version, pod), field) writes
// (attributes.ts stays the readable definition of the list), without the
// attribute record, the walk over its keys or a cache lookup per attribute.
// Each key's bytes are encoded once. sidecar/test/decision-attributes-wire.test.ts
// checks the bytes over generated decisions.
//
// Why: the record and the generic walk were most of a decision span's
// encoding (a throwaway CPU profile of the encoding alone). `make
// bench-instructions` counts the instructions per Check this saves.
import type { Attributes } from '@opentelemetry/api';
import { WIRE_LEN } from '../../../policy/src/wire-reader.js';
import { encoded, type WireWriter } from '../wire-writer.js';
import { writeAttribute, writeAttributes } from './attribute-wire.js';
import { grantAttributes, type DecisionAttributes } from './attributes.js';

/** Writes `a` as repeated KeyValue field `field`, in decisionAttributes' order. */
export function writeDecisionAttributes(w: WireWriter, field: number, a: DecisionAttributes): void {
  const d = a.decision;
  writeKeyValue(w, field, d.allowed ? DECISION_ALLOW : DECISION_DENY);
  MODE.write(w, field, d.mode);
  POLICY.write(w, field, d.policy);
  RULE.write(w, field, d.rule);
  REASON.write(w, field, d.reason);
  POLICY_VERSION.write(w, field, a.policyVersion);
  NAMESPACE.write(w, field, a.pod.namespace);
  POD.write(w, field, a.pod.name);
  if (d.auditDecision !== null) writeKeyValue(w, field, d.auditDecision.allowed ? AUDIT_ALLOW : AUDIT_DENY);
  const r = d.request;
  if (r !== undefined) {
    if (r.method !== '') METHOD.write(w, field, r.method);
    if (r.host !== '') HOST.write(w, field, r.host);
    if (r.port > 0) writeAttribute(w, field, 'server.port', r.port);
    if (r.path !== '') PATH.write(w, field, r.path);
    if (r.mcpMethod !== '') MCP_METHOD.write(w, field, r.mcpMethod);
    if (r.mcpTool !== '') TOOL.write(w, field, r.mcpTool);
  }
  // Approvals, break-glass, sessions and anomalies: rarer, written from their records.
  if (d.grant !== undefined || d.approval !== undefined || d.detail !== undefined) {
    const attrs: Attributes = {};
    grantAttributes(d, attrs);
    writeAttributes(w, attrs, field);
  }
  if (d.session !== undefined) {
    SESSION_ID.write(w, field, d.session.id);
    writeAttribute(w, field, 'agentwarden.session.taints', d.session.taints);
    if (d.session.added.length > 0) writeAttribute(w, field, 'agentwarden.session.taints.added', d.session.added);
  }
  if (d.anomaly !== undefined) {
    ANOMALY.write(w, field, d.anomaly.kind);
    ANOMALY_OPERATION.write(w, field, d.anomaly.operation);
    ANOMALY_ACTION.write(w, field, d.anomaly.action);
    if (d.anomaly.quarantined) writeAttribute(w, field, 'agentwarden.anomaly.quarantined', true);
  }
}

/** A KeyValue's bytes up to its value's length: the key (field 1), then the value's tag (field 2). */
function keyPrefix(key: string): Uint8Array {
  return encoded((w) => {
    w.stringField(1, key);
    w.tag(2, WIRE_LEN);
  });
}

/** The fields of a KeyValue of a string value (key from its prefix), without its own length. */
function writeKeyValueFields(w: WireWriter, prefix: Uint8Array, value: string): void {
  w.raw(prefix);
  const at = w.begin();
  w.stringField(1, value);
  w.end(at);
}

/** A whole KeyValue of a string value, encoded once, without its own length. */
function keyValue(prefix: Uint8Array, value: string): Uint8Array {
  return encoded((w) => writeKeyValueFields(w, prefix, value));
}

function writeKeyValue(w: WireWriter, field: number, kv: Uint8Array): void {
  w.tag(field, WIRE_LEN);
  w.bytes(kv);
}

/**
 * A string attribute's key, and the KeyValues of the values it had, encoded
 * once: decision spans repeat most of theirs (policy, rule, host, pod...).
 * Bounded: VALUES_PER_KEY values of at most VALUE_MAX characters; a key with
 * more (url.path) has its other values written each time.
 */
class StringAttribute {
  private readonly prefix: Uint8Array;
  private readonly values = new Map<string, Uint8Array>();

  constructor(readonly key: string) {
    this.prefix = keyPrefix(key);
  }

  write(w: WireWriter, field: number, value: string): void {
    let kv = this.values.get(value);
    if (kv === undefined && this.values.size < VALUES_PER_KEY && value.length <= VALUE_MAX) {
      kv = keyValue(this.prefix, value);
      this.values.set(value, kv);
    }
    if (kv !== undefined) {
      writeKeyValue(w, field, kv);
      return;
    }
    w.tag(field, WIRE_LEN);
    const at = w.begin();
    writeKeyValueFields(w, this.prefix, value);
    w.end(at);
  }
}

const VALUES_PER_KEY = 32;
const VALUE_MAX = 256;

const DECISION_ALLOW = keyValue(keyPrefix('agentwarden.decision'), 'allow');
const DECISION_DENY = keyValue(keyPrefix('agentwarden.decision'), 'deny');
const AUDIT_ALLOW = keyValue(keyPrefix('agentwarden.audit.decision'), 'allow');
const AUDIT_DENY = keyValue(keyPrefix('agentwarden.audit.decision'), 'deny');
const MODE = new StringAttribute('agentwarden.mode');
const POLICY = new StringAttribute('agentwarden.policy');
const RULE = new StringAttribute('agentwarden.rule');
const REASON = new StringAttribute('agentwarden.reason');
const POLICY_VERSION = new StringAttribute('agentwarden.policy_version');
const NAMESPACE = new StringAttribute('k8s.namespace.name');
const POD = new StringAttribute('k8s.pod.name');
const METHOD = new StringAttribute('http.request.method');
const HOST = new StringAttribute('server.address');
const PATH = new StringAttribute('url.path');
const MCP_METHOD = new StringAttribute('mcp.method.name');
const TOOL = new StringAttribute('gen_ai.tool.name');
const SESSION_ID = new StringAttribute('agentwarden.session.id');
const ANOMALY = new StringAttribute('agentwarden.anomaly');
const ANOMALY_OPERATION = new StringAttribute('agentwarden.anomaly.operation');
const ANOMALY_ACTION = new StringAttribute('agentwarden.anomaly.action');
