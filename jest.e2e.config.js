// make e2e: jest suites against the local control plane (`make cluster-up`).
// Suites run one at a time: they share one API server and Jaeger.
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/dist/e2e'],
  testMatch: ['**/test/**/*.test.js'],
  transform: {},
  maxWorkers: 1,
  testTimeout: 180000,
};
