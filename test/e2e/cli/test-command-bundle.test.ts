/**
 * `kube-remediator test` as shipped: the bundle alone (no node_modules above it) runs the seed
 * sample tests and reports a wrong expectation and an invalid file with the promtool-like exit
 * codes. In the e2e project because it needs the built bundle, not the cluster.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { execa } from 'execa';
import { OPERATOR_NODE_FLAGS } from '../../../src/cli/node-flags.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';
import { isolatedOperatorEntry } from '../../support/operator.js';

const cli = (...args: string[]) =>
  execa(process.execPath, [...OPERATOR_NODE_FLAGS, isolatedOperatorEntry(), ...args], {
    reject: false,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    extendEnv: false,
  });

const samples = join(REPO_ROOT, 'config', 'samples', 'tests');
const fixtures = join(REPO_ROOT, 'test', 'fixtures', 'runbook-tests');

describe('kube-remediator test (the bundle)', () => {
  it('passes the seed sample tests (exit 0)', async () => {
    const files = readdirSync(samples)
      .filter((f) => f.endsWith('.test.yaml'))
      .map((f) => join(samples, f));
    const res = await cli('test', ...files);
    expect(res.stderr).toBe('');
    expect(res.stdout.match(/SUCCESS/g)).toHaveLength(5);
    expect(res.exitCode).toBe(0);
  });

  it('prints the diff of a wrong expectation (exit 1) and names the field of an invalid file (exit 2)', async () => {
    const wrong = await cli('test', join(fixtures, 'wrong-expectation.test.yaml'));
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stdout).toContain('expected: "Deployment/dash/redis"');
    const invalid = await cli('test', join(fixtures, 'invalid.test.yaml'));
    expect(invalid.exitCode).toBe(2);
    expect(invalid.stderr).toContain('cases[0].alert.status: must be one of firing, resolved');
  });
});
