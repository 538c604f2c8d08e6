// ESLint with typed typescript-eslint rules over the TypeScript sources.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'proto/gen/**', '.cache/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/explicit-module-boundary-types': 'error',
      '@typescript-eslint/explicit-function-return-type': ['error', { allowExpressions: true, allowTypedFunctionExpressions: true, allowHigherOrderFunctions: true }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // @kubernetes/client-node's models are plain data classes that its own docs
      // fill with object literals; these two rules would forbid that idiom.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      '@typescript-eslint/no-misused-spread': 'off',
    },
  },
  {
    // Commands declare their flags in one table (common/flags.ts): the parser and
    // --help come from it, so a flag cannot exist without help.
    files: ['cli/src/**/*.ts', 'sidecar/src/**/*.ts', 'controller/src/**/*.ts', 'policy/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'node:util', importNames: ['parseArgs'], message: 'declare the flags with defineCommand and parse with parseCommand (common/flags.ts), so --help lists them' }] }],
    },
  },
  {
    // Code the sidecar loads, which runs in every agent pod. An ESM import of a
    // Node built-in builds its ESM facade, which reads every export and so runs
    // the lazy ones: node:http loads undici (its WebSocket export), node:fs
    // loads fs/promises, readline and the REPL history. process.getBuiltinModule
    // returns the same exports without the facade. The idle sidecar loads 154
    // of Node's internal modules (make bench-memory) and idles at 75-80 MiB,
    // where it idled at 83-90 with the imports (make bench, make bench-memory;
    // README, Measured results).
    files: ['sidecar/src/**/*.ts', 'policy/src/**/*.ts', 'policy/io/**/*.ts', 'common/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group: ['node:*'], allowTypeImports: true, message: 'load Node built-ins with process.getBuiltinModule(\'node:...\') in sidecar code: an ESM import also loads the module\'s lazy exports (eslint.config.js)' }] }],
    },
  },
  {
    files: ['**/test/**/*.ts', 'e2e/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/explicit-function-return-type': 'off',
    },
  },
);
