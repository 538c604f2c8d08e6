// Property tests of paths (DESIGN.md point 7): ambiguous paths are never
// allowed, and the compiled template trie agrees with a naive matcher.
import fc from 'fast-check';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import { compileSnapshot, loadSnapshot, parseAgentPolicy } from '../src/index.js';
import { matchTrie, type PathTrie } from '../src/paths.js';
import { agent, httpOf, policy, POD } from './helpers.js';

const HOST = 'open.example.com';

/** Fixed, so that every run checks the same cases; change it to explore others. */
const SEED = 20260329;

/** Allows everything on HOST (and every other host): only the path check can deny. */
const open = agent([policy('open', `
  podSelector: {}
  rules:
    - name: subtree
      to: {hosts: [${HOST}]}
      http: {paths: ["/**"]}
    - name: anything
      to: {hosts: ["*"]}
`)]);

/** Decides GET https://HOST<path>, the path sent exactly as given. */
function decidePath(path: string): { allowed: boolean; rule: string } {
  const check = checkRequestFrom({ url: `https://${HOST}/` });
  httpOf(check).path = path;
  const d = open.checkRequest(check);
  return { allowed: d.allowed, rule: d.rule };
}

/** An ordinary segment: unreserved characters, never "." or "..", never empty, never ending in a dot. */
const plainSegment = fc.stringMatching(/^[a-zA-Z0-9_~-]([a-zA-Z0-9._~-]{0,5}[a-zA-Z0-9_~-])?$/);

/** One dot, written plainly or percent-encoded in either case. */
const dot = fc.constantFrom('.', '%2e', '%2E');

/** "." or "..", each dot plain or encoded. */
const dotSegment = fc.oneof(dot, fc.tuple(dot, dot).map(([a, b]) => a + b));

/** A segment carrying an encoded slash or backslash somewhere. */
const encodedSeparatorSegment = fc
  .tuple(plainSegment, fc.constantFrom('%2f', '%2F', '%5c', '%5C'), plainSegment)
  .map(([before, sep, after]) => before + sep + after);

/** A path made of plain segments with `bad` inserted at some position, and maybe a query. */
function pathWith(bad: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(fc.array(plainSegment, { maxLength: 5 }), bad, fc.array(plainSegment, { maxLength: 5 }), fc.option(fc.stringMatching(/^[a-z=&./%0-9]{0,12}$/)))
    .map(([before, segment, after, query]) => `/${[...before, segment, ...after].join('/')}${query === null ? '' : `?${query}`}`);
}

describe('ambiguous request paths', () => {
  it('with an empty segment ("//") are never allowed, even by a rule allowing /**', () => {
    fc.assert(fc.property(fc.array(plainSegment, { minLength: 1, maxLength: 5 }), fc.nat(4), (segments, at) => {
      const path = `/${segments.map((s, i) => (i === at % segments.length ? `/${s}` : s)).join('/')}`;
      expect(decidePath(path)).toEqual({ allowed: false, rule: 'invalid-request' });
    }), { numRuns: 300, seed: SEED });
  });

  it('with a "." or ".." segment, plain or percent-encoded in any case, are never allowed, even by a rule allowing /**', () => {
    fc.assert(fc.property(pathWith(dotSegment), (path) => {
      expect(decidePath(path)).toEqual({ allowed: false, rule: 'invalid-request' });
    }), { numRuns: 500, seed: SEED });
  });

  it('with an encoded slash or backslash are never allowed, even by a rule allowing /**', () => {
    fc.assert(fc.property(pathWith(encodedSeparatorSegment), (path) => {
      expect(decidePath(path)).toEqual({ allowed: false, rule: 'invalid-request' });
    }), { numRuns: 500, seed: SEED });
  });

  it('with ";", "%25", "#", a control character or a segment ending in a dot or space, raw or encoded, are never allowed, even by a rule allowing /**', () => {
    const readDifferently = fc
      .tuple(plainSegment, fc.constantFrom(';', '%3b', '%3B', '%25', '%252e', '%23', '#', '%0a', '%0D', '%09', '%7f', '\x01'), plainSegment)
      .map(([before, bad, after]) => before + bad + after);
    const strippedByWindows = fc
      .tuple(plainSegment, fc.constantFrom('.', ' ', '%20', '%2e', '%2E', '. ', '.%20', '...'))
      .map(([before, tail]) => before + tail);
    const onlyDotsAndSpaces = fc.stringMatching(/^(\.|%2e|%20| ){3,6}$/).filter((s) => !/^(\.|%2e){1,2}$/i.test(s));
    fc.assert(fc.property(pathWith(fc.oneof(readDifferently, strippedByWindows, onlyDotsAndSpaces)), (path) => {
      expect(decidePath(path)).toEqual({ allowed: false, rule: 'invalid-request' });
    }), { numRuns: 500, seed: SEED });
  });

  it('are the only ones refused: paths of plain segments are allowed by /**', () => {
    fc.assert(fc.property(pathWith(plainSegment), (path) => {
      expect(decidePath(path)).toEqual({ allowed: true, rule: 'subtree' });
    }), { numRuns: 200, seed: SEED });
  });
});

// ---- the trie against a naive matcher ----

type Token =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'param'; readonly name: string }
  | { readonly kind: 'wildcard' }
  | { readonly kind: 'rest' };

/** A small alphabet, so that random paths often match random templates. */
const LITERALS = ['a', 'b', 'c', 'constructor'] as const;
const PATH_SEGMENTS = [...LITERALS, 'd', ''] as const;

const token: fc.Arbitrary<Token> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...LITERALS).map((value): Token => ({ kind: 'literal', value })) },
  { weight: 2, arbitrary: fc.constantFrom('x', 'y', 'z').map((name): Token => ({ kind: 'param', name })) },
  { weight: 1, arbitrary: fc.constant<Token>({ kind: 'wildcard' }) },
);

/** A template: up to four tokens, then nothing, a final "**", or a trailing slash (an empty literal). */
const template: fc.Arbitrary<Token[]> = fc
  .tuple(fc.array(token, { maxLength: 4 }), fc.constantFrom('end', 'rest', 'slash'))
  .map(([tokens, ending]): Token[] => {
    if (ending === 'rest') return [...tokens, { kind: 'rest' }];
    if (ending === 'slash' && tokens.length > 0) return [...tokens, { kind: 'literal', value: '' }];
    return tokens;
  })
  .filter((tokens) => {
    const names = tokens.flatMap((t) => (t.kind === 'param' ? [t.name] : []));
    return new Set(names).size === names.length;
  });

function templateText(tokens: readonly Token[]): string {
  return `/${tokens.map((t) => {
    switch (t.kind) {
      case 'literal': return t.value;
      case 'param': return `{${t.name}}`;
      case 'wildcard': return '*';
      case 'rest': return '**';
    }
  }).join('/')}`;
}

/** The reference: one template, segment by segment, by recursion. */
function naiveMatch(tokens: readonly Token[], segments: readonly string[]): Map<string, string> | undefined {
  const captures = new Map<string, string>();
  const go = (t: number, s: number): boolean => {
    const tok = tokens[t];
    if (tok === undefined) return s === segments.length;
    if (tok.kind === 'rest') return true;
    const seg = segments[s];
    if (seg === undefined) return false;
    switch (tok.kind) {
      case 'literal':
        if (seg !== tok.value) return false;
        break;
      case 'param':
        if (seg === '') return false;
        captures.set(tok.name, seg);
        break;
      case 'wildcard':
        if (seg === '') return false;
        break;
    }
    return go(t + 1, s + 1);
  };
  return go(0, 0) ? captures : undefined;
}

/** The trie the compiler builds for the templates of one rule, as the evaluator loads it. */
function compiledTrie(templates: readonly string[]): PathTrie {
  const p = parseAgentPolicy({
    apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentPolicy', metadata: { name: 'trie', namespace: POD.namespace },
    spec: { podSelector: {}, rules: [{ name: 'paths', to: { hosts: [HOST] }, http: { paths: templates } }] },
  }, 'property', POD.namespace);
  const trie = loadSnapshot(compileSnapshot([p], POD)).rules[0]?.paths;
  if (trie === undefined) throw new Error('the rule has no path trie');
  return trie;
}

describe('the compiled path trie', () => {
  it('matches exactly the paths some template matches, capturing what that template captures', () => {
    const templates = fc.uniqueArray(template, { minLength: 1, maxLength: 5, selector: templateText });
    const segments = fc.array(fc.constantFrom(...PATH_SEGMENTS), { maxLength: 6 });
    fc.assert(fc.property(templates, fc.array(segments, { minLength: 1, maxLength: 10 }), (tokens, paths) => {
      const trie = compiledTrie(tokens.map(templateText));
      for (const segs of paths) {
        const expected = tokens.map((t) => naiveMatch(t, segs)).filter((m) => m !== undefined);
        const actual = matchTrie(trie, segs);
        if (expected.length === 0) {
          expect({ segs, actual }).toEqual({ segs, actual: undefined });
        } else {
          expect(actual).toBeDefined();
          expect(expected).toContainEqual(actual);
        }
      }
    }), { numRuns: 500, seed: SEED });
  });

  it('matches often enough for the comparison to mean something', () => {
    const samples = fc.sample(fc.tuple(template, fc.array(fc.constantFrom(...PATH_SEGMENTS), { maxLength: 6 })), { numRuns: 2000, seed: SEED });
    const matches = samples.filter(([t, segs]) => naiveMatch(t, segs) !== undefined).length;
    expect(matches).toBeGreaterThan(100);
  });
});
