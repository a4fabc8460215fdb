import { createDefaultEsmPreset } from 'ts-jest';

const preset = createDefaultEsmPreset({ tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: [151002] } });
const common = {
  ...preset,
  testEnvironment: 'node',
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};

/** Two projects: pure unit tests, and tests against a real control plane, Redis and Postgres. */
export default {
  // Real servers make for slow-but-bounded tests. Time appears only as lower bounds (a backoff not
  // shorter than asked) and as deadlines far above the expected time, never as a speed target.
  testTimeout: 120000,
  // A watch or socket left open by a failing test must not keep CI waiting after teardown.
  forceExit: true,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/tools/cluster/global-setup.mjs',
      globalTeardown: '<rootDir>/tools/cluster/global-teardown.mjs',
    },
  ],
};
