// Jest runs the compiled ESM output (tsc writes dist/ with source maps), so the
// tests exercise exactly the JavaScript that bin/agentwarden runs.
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/dist'],
  testMatch: ['**/test/**/*.test.js'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/dist/e2e/'],
  transform: {},
  testTimeout: 30000,
};
