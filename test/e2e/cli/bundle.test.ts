/**
 * The command line as the image runs it: the bundle alone, in a directory with no
 * node_modules above it (the operator's own tests run it the same way, test/support/operator.ts).
 * In the e2e project because it needs the built bundle, not the cluster.
 */
import { describe, expect, it } from '@jest/globals';
import { execa } from 'execa';
import { OPERATOR_NODE_FLAGS } from '../../../src/cli/node-flags.js';
import { isolatedOperatorEntry } from '../../support/operator.js';

const cli = (...args: string[]) =>
  execa(process.execPath, [...OPERATOR_NODE_FLAGS, isolatedOperatorEntry(), ...args], {
    reject: false,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    extendEnv: false,
  });

describe('kube-remediator (the bundle, without node_modules)', () => {
  it('prints its help, version, CRDs and configuration', async () => {
    const help = await cli('--help');
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^kube-remediator \d+\.\d+\.\d+: /);
    expect((await cli('version')).stdout).toMatch(/^\d+\.\d+\.\d+$/);
    const crds = await cli('crds');
    expect(crds.exitCode).toBe(0);
    expect(crds.stdout).toContain('name: remediations.kube-remediator.io');
    expect(crds.stdout).toContain('name: runbooks.kube-remediator.io');
    const config = await cli('config');
    expect(config.exitCode).toBe(0);
    expect(config.stdout).toContain('leaderElection:');
  });

  it('exits 0 without a stack trace when the reader of its output stops early (crds | head)', async () => {
    // A real shell pipe: `head` exits after one line and the next write meets EPIPE.
    const command = [process.execPath, ...OPERATOR_NODE_FLAGS, isolatedOperatorEntry(), 'crds']
      .map((a) => `'${a}'`)
      .join(' ');
    const res = await execa('bash', ['-c', `${command} | head -1; echo "exit=\${PIPESTATUS[0]}"`], {
      reject: false,
    });
    expect(res.stdout.split('\n')).toEqual(['apiVersion: apiextensions.k8s.io/v1', 'exit=0']);
    expect(res.stderr).toBe('');
  });

  it('says what is wrong with an unknown command, and exits 2', async () => {
    const res = await cli('frobnicate');
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain('unknown command "frobnicate"');
  });
});
