// DESIGN.md point 8 and "Data plane": a body is read only when it is complete
// (whatever Envoy's flag says when the body fills its buffer) and has one
// reading for every JSON parser; otherwise no Allow mcp rule matches it and
// Deny mcp rules do.
import { describe, expect, it } from '@jest/globals';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import type { CheckRequest } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { MAX_REQUEST_BYTES_CONTEXT_KEY } from '../src/request.js';
import { foldKey, jsonReadingProblem, MAX_JSON_DEPTH } from '../src/json-one-reading.js';
import { agent, httpOf, policy } from './helpers.js';

const mcp = agent([policy('mcp', `
  podSelector: {}
  rules:
    - name: search
      to: {hosts: [mcp.example.com]}
      mcp: {tools: [search]}
    - name: no-deletes
      action: Deny
      to: {hosts: [mcp.example.com]}
      mcp: {tools: [delete_customer]}
    - name: team-body
      to: {hosts: [api.example.com]}
      when: "request.body.team == 'care'"
`)]);

const URL = 'https://mcp.example.com/mcp';
const SEARCH = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{}}}';

/** A POST to the MCP endpoint with this body, on a route whose Envoy buffers `limit` bytes. */
function post(body: string, edit: (c: CheckRequest) => void = () => undefined, limit?: number): CheckRequest {
  const check = checkRequestFrom({ method: 'POST', url: URL, body, headers: { 'content-type': 'application/json', 'x-envoy-auth-partial-body': 'false' } });
  if (limit !== undefined) check.attributes!.contextExtensions[MAX_REQUEST_BYTES_CONTEXT_KEY] = String(limit);
  edit(check);
  return check;
}

describe('partial bodies', () => {
  it('treats a body of exactly the Envoy buffer limit as partial although Envoy says x-envoy-auth-partial-body: false', () => {
    const bytes = new TextEncoder().encode(SEARCH).length;
    expect(mcp.checkRequest(post(SEARCH, undefined, bytes + 1))).toMatchObject({ allowed: true, rule: 'search' });
    const d = mcp.checkRequest(post(SEARCH, undefined, bytes));
    expect(d).toMatchObject({ allowed: false, rule: 'no-deletes' });
    expect(d.reason).toContain(`body is partial: its ${bytes} bytes reach Envoy's buffer limit of ${bytes} bytes`);
  });

  it('counts the limit in UTF-8 bytes, not characters', () => {
    const body = '{"jsonrpc":"2.0","id":"é€𝄞","method":"tools/call","params":{"name":"search"}}';
    const bytes = new TextEncoder().encode(body).length;
    expect(mcp.checkRequest(post(body, undefined, bytes))).toMatchObject({ allowed: false, rule: 'no-deletes' });
    expect(mcp.checkRequest(post(body, undefined, bytes + 1))).toMatchObject({ allowed: true });
  });

  it('treats a raw_body at or over the limit as partial', () => {
    const raw = (c: CheckRequest): void => {
      httpOf(c).rawBody = new TextEncoder().encode(httpOf(c).body);
      httpOf(c).body = '';
    };
    expect(mcp.checkRequest(post(SEARCH, raw, SEARCH.length))).toMatchObject({ allowed: false, rule: 'no-deletes' });
    expect(mcp.checkRequest(post(SEARCH, raw, SEARCH.length + 1))).toMatchObject({ allowed: true });
  });

  it('treats a body shorter than its content-length as partial', () => {
    const d = mcp.checkRequest(post(SEARCH, (c) => {
      httpOf(c).headers['content-length'] = String(SEARCH.length + 10);
    }));
    expect(d).toMatchObject({ allowed: false, rule: 'no-deletes' });
    expect(d.reason).toContain(`body is partial: ${SEARCH.length} bytes of the ${SEARCH.length + 10} that content-length announces`);
    expect(mcp.checkRequest(post(SEARCH, (c) => {
      httpOf(c).headers['content-length'] = String(SEARCH.length);
    }))).toMatchObject({ allowed: true });
  });

  it('treats a body as partial when the limit in the context extension is not a number', () => {
    expect(mcp.checkRequest(post(SEARCH, (c) => {
      c.attributes!.contextExtensions[MAX_REQUEST_BYTES_CONTEXT_KEY] = '1MiB';
    }))).toMatchObject({ allowed: false, rule: 'no-deletes' });
  });

  it('treats a header_map partial flag list containing true as partial', () => {
    expect(mcp.checkRequest(post(SEARCH, (c) => {
      httpOf(c).headers['x-envoy-auth-partial-body'] = 'false,true';
    }))).toMatchObject({ allowed: false, rule: 'no-deletes' });
  });

  it('does not call an empty body partial on a route with a limit', () => {
    const check = checkRequestFrom({ url: 'https://mcp.example.com/healthz' });
    check.attributes!.contextExtensions[MAX_REQUEST_BYTES_CONTEXT_KEY] = '8192';
    expect(mcp.checkRequest(check)).toMatchObject({ allowed: false, rule: 'default-deny' });
  });
});

describe('bodies without one reading', () => {
  const cases: [string, string, string][] = [
    ['a duplicate key', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","name":"delete_customer"}}', 'body has duplicate key "name" in params'],
    ['keys that differ only in case', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","Name":"delete_customer"}}', 'body has duplicate key "Name" (case-insensitively) in params'],
    ['a key with U+212A KELVIN SIGN for k', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"kind":"a","\u212Aind":"b"}}}', '(case-insensitively) in params.arguments'],
    ['a key with U+017F LONG S for s', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"s":1,"\u017F":2}}}', '(case-insensitively)'],
    ['an escaped duplicate key', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","\\u006eame":"delete_customer"}}', 'duplicate key "name"'],
    ['a duplicate key deep in an array', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"q":[{"a":1,"a":2}]}}}', 'in params.arguments.q[0]'],
    ['text after the first value', `${SEARCH} {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_customer"}}`, 'more than one JSON value'],
    ['a byte-order mark', `\ufeff${SEARCH}`, 'byte-order mark'],
    ['a lone high surrogate escape', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search\\ud800"}}', 'lone surrogate escape'],
    ['a lone low surrogate escape', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search\\udc00x"}}', 'lone surrogate escape'],
    ['nesting deeper than the bound', `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"a":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}}}`, `deeper than ${MAX_JSON_DEPTH}`],
  ];

  it.each(cases)('treats a body with %s as unreadable: Deny mcp rules match, Allow mcp rules do not', (_what, body, note) => {
    const d = mcp.checkRequest(post(body));
    expect(d).toMatchObject({ allowed: false, rule: 'no-deletes' });
    expect(d.reason).toContain(note);
  });

  it('treats a raw_body with a byte-order mark as unreadable', () => {
    const d = mcp.checkRequest(post(SEARCH, (c) => {
      httpOf(c).rawBody = Uint8Array.from([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(SEARCH)]);
      httpOf(c).body = '';
    }));
    expect(d).toMatchObject({ allowed: false, rule: 'no-deletes' });
    expect(d.reason).toContain('byte-order mark');
  });

  it('gives conditions on request.body no value for such a body', () => {
    const check = checkRequestFrom({ method: 'POST', url: 'https://api.example.com/x', body: '{"team":"care","Team":"billing"}' });
    expect(mcp.checkRequest(check)).toMatchObject({ allowed: false, rule: 'default-deny' });
    expect(mcp.checkRequest(checkRequestFrom({ method: 'POST', url: 'https://api.example.com/x', body: '{"team":"care","name":"x"}' }))).toMatchObject({ allowed: true });
  });

  it('keeps bodies with one reading readable: pairs of surrogates, escapes, nesting up to the bound', () => {
    for (const body of [
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"q":"\\ud83d\\ude00 😀 \\" \\\\ \\/ \\n","n":-1.5e3}}}',
      `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"a":${'['.repeat(MAX_JSON_DEPTH - 3)}${']'.repeat(MAX_JSON_DEPTH - 3)}}}}`,
      ` \n${SEARCH}\r\n\t `,
    ]) {
      expect({ body, d: mcp.checkRequest(post(body)) }).toMatchObject({ body, d: { allowed: true, rule: 'search' } });
    }
  });
});

describe('JSON-RPC keys in a case variant only', () => {
  it.each([
    ['"Method" for method', '{"jsonrpc":"2.0","id":1,"Method":"tools/call","params":{"name":"delete_customer"}}'],
    ['"Params" for params', '{"jsonrpc":"2.0","id":1,"method":"tools/call","Params":{"name":"delete_customer"}}'],
    ['"NAME" for params.name', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"NAME":"delete_customer"}}'],
    ['"\u017Fearch"-style folding in "argument\u017F"', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","argument\u017F":{}}}'],
  ])('make the message no valid request (%s): Deny mcp rules match', (_what, body) => {
    const d = mcp.checkRequest(post(body));
    expect(d).toMatchObject({ allowed: false, rule: 'no-deletes' });
    expect(d.reason).toMatch(/case variant|no method|without a string params.name/);
  });

  it('make a tools/call without params.name no valid request', () => {
    const d = mcp.checkRequest(post('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}'));
    expect(d).toMatchObject({ allowed: false, rule: 'no-deletes' });
    expect(d.reason).toContain('tools/call without a string params.name');
  });
});

describe('jsonReadingProblem', () => {
  it('accepts what JSON.parse accepts when keys are distinct', () => {
    for (const text of ['0', '-0.5E+2', 'true', 'null', '"x"', '[]', '{}', '[1,[2,{"a":{}}]]', '{"a":1,"b":[true,false,null]}']) {
      expect({ text, problem: jsonReadingProblem(text) }).toEqual({ text, problem: undefined });
    }
  });

  it('refuses what JSON.parse refuses', () => {
    for (const text of ['', '{', '[1,]', '{"a":1,}', '01', '"\\x"', '"a\nb"', 'tru', '{"a" 1}', '.5']) {
      expect({ text, problem: jsonReadingProblem(text) }).toEqual({ text, problem: expect.any(String) });
    }
  });

  it('folds keys as Go does: K, k and U+212A alike, S, s and U+017F alike, Σ σ ς alike', () => {
    expect(foldKey('Kind')).toBe(foldKey('\u212Aind'));
    expect(foldKey('kind')).toBe(foldKey('KIND'));
    expect(foldKey('\u017F')).toBe(foldKey('S'));
    expect(foldKey('Σ')).toBe(foldKey('ς'));
    expect(foldKey('σ')).toBe(foldKey('ς'));
    expect(foldKey('a')).not.toBe(foldKey('b'));
  });
});
