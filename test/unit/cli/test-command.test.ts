/**
 * `kube-remediator test` over the shipped examples (config/samples/tests: the five seed
 * Runbooks), a deliberately wrong expectation (a readable diff, exit 1) and an invalid test file
 * (exit 2, the field named). No cluster: the command needs none.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { runTestCommand } from '../../../src/cli/test.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';

const SAMPLE_TESTS = join(REPO_ROOT, 'config', 'samples', 'tests');
const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'runbook-tests');

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runTestCommand(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
  });
  return { code, out, err };
}

describe('kube-remediator test', () => {
  const samples = readdirSync(SAMPLE_TESTS)
    .filter((f) => f.endsWith('.test.yaml'))
    .sort();

  it('ships one test file per seed sample', () => {
    expect(samples).toEqual([
      'data-storage-service.test.yaml',
      'dedup-store-outage.test.yaml',
      'fluxa-pipeline.test.yaml',
      'multi-region-failover.test.yaml',
      'redis-outage.test.yaml',
    ]);
  });

  it.each(samples)('config/samples/tests/%s passes', async (file) => {
    const r = await run(join(SAMPLE_TESTS, file));
    expect(r.err).toBe('');
    expect(r.out).toMatch(/SUCCESS \(\d+ cases\)/);
    expect(r.code).toBe(0);
  });

  it('prints a readable diff of a wrong expectation and exits 1', async () => {
    const r = await run(join(FIXTURES, 'wrong-expectation.test.yaml'));
    expect(r.code).toBe(1);
    expect(r.out).toContain('FAILED: 1 of 2 cases:');
    expect(r.out).toContain(
      [
        '    case "the wrong restart time and kind":',
        '      runbooks.redis-outage.target',
        '        expected: "Deployment/dash/redis"',
        '        got:      "StatefulSet/dash/redis"',
        '      runbooks.redis-outage.steps[1].after.restartedAt',
        '        expected: "2026-03-02T09:00:00Z"',
        '        got:      "2026-03-02T10:00:00Z"',
      ].join('\n'),
    );
    expect(r.out).not.toContain('a right expectation passes');
  });

  it('exits 2 on an invalid test file, naming each wrong field', async () => {
    const r = await run(join(FIXTURES, 'invalid.test.yaml'));
    expect(r.code).toBe(2);
    expect(r.err).toContain('invalid test file');
    expect(r.err).toContain('cases[0].alert.status: must be one of firing, resolved');
    expect(r.err).toContain('cases[0].expect:');
  });

  it('runs a whole Alertmanager notification and a resolved alert', async () => {
    const r = await run(join(FIXTURES, 'notification.test.yaml'));
    expect(r.out).toContain('SUCCESS (2 cases)');
    expect(r.code).toBe(0);
  });

  it('an invalid file does not hide the result of the others: exit 2 wins over 1', async () => {
    const r = await run(join(FIXTURES, 'wrong-expectation.test.yaml'), join(FIXTURES, 'invalid.test.yaml'));
    expect(r.code).toBe(2);
    expect(r.out).toContain('FAILED: 1 of 2 cases');
  });

  it('--run selects cases by name; --show prints what followed', async () => {
    const r = await run('--run', 'right', '--show', join(FIXTURES, 'wrong-expectation.test.yaml'));
    expect(r.code).toBe(0);
    expect(r.out).toContain('SUCCESS (1 cases)');
    expect(r.out).toContain("restartedAt: '2026-03-02T10:00:00Z'");
  });

  it.each([[[]], [['--bogus', 'x.yaml']], [['--run', '(', 'x.yaml']]])(
    'refuses usage %j with exit 2',
    async (argv) => {
      const r = await run(...argv);
      expect(r.code).toBe(2);
      expect(r.err).toContain('Usage: kube-remediator test');
    },
  );
});
