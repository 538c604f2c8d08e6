// Which part of agentwarden may import what (STYLE 12, DESIGN "Boundaries").
// `make lint` runs it (`npm run lint:deps`); a wrong import fails the day it is written.
// Rules read the TypeScript sources, tests included: a test that pulls the
// controller into the sidecar's graph breaks the boundary as much as src does.

/** Modules that do I/O (network, files, processes, Kubernetes, telemetry export), as resolved paths. */
const IO_MODULES = [
  '^(node:)?(fs|fs/promises|net|http|http2|https|tls|dgram|dns|dns/promises|child_process|cluster|worker_threads|readline|inspector|os|process)$',
  '^node_modules/(@grpc/|express/|@kubernetes/client-node/|@opentelemetry/(sdk-|exporter-|otlp-|resources/))',
];

export default {
  forbidden: [
    {
      name: 'sidecar-not-to-kubernetes',
      comment: 'The sidecar runs in every agent pod: its import graph never reaches the Kubernetes client (DESIGN, Boundaries).',
      severity: 'error',
      from: { path: '^sidecar/' },
      to: { path: '^node_modules/@kubernetes/client-node/', reachable: true },
    },
    {
      name: 'sidecar-not-to-controller',
      comment: 'The sidecar never reaches the controller\'s code; what both need lives in policy/, common/ or proto/gen.',
      severity: 'error',
      from: { path: '^sidecar/' },
      to: { path: '^controller/', reachable: true },
    },
    {
      name: 'policy-core-is-pure',
      comment: 'The compiler and the evaluator are pure: no I/O module; what they need arrives as arguments (policy/io is the shell that reads files).',
      severity: 'error',
      from: { path: '^policy/src/' },
      to: { dependencyTypesNot: ['type-only'], path: IO_MODULES },
    },
    {
      name: 'policy-core-stays-below',
      comment: 'The policy core is used by every program and uses none of them.',
      severity: 'error',
      from: { path: '^policy/src/' },
      to: { path: '^(policy/io|sidecar|controller|cli|bench|e2e|demo)/' },
    },
    {
      name: 'only-main-reads-config',
      comment: 'Configuration is read in one place (STYLE 3): each component owns its options type; only main.ts imports config.ts.',
      severity: 'error',
      from: { path: '^(sidecar|controller)/src/', pathNot: '^(sidecar|controller)/src/main\\.ts$' },
      to: { path: '^(sidecar|controller)/src/config\\.ts$' },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles, type-only ones included: a cycle means two files are one component.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve is a typo or a missing dependency.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|\\.cache)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types'],
    },
  },
};
