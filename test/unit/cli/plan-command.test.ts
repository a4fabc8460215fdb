/** `kube-remediator plan`, offline: the same engine as `test`, printed for a person. */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { runPlanCommand } from '../../../src/cli/plan.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';

const SAMPLES = join(REPO_ROOT, 'config', 'samples');
const dir = mkdtempSync(join(tmpdir(), 'kr-plan-'));
const alert = join(dir, 'alert.yaml');
writeFileSync(alert, 'labels: { alertname: FluxaProcessorDbConnectionFailures, namespace: fluxa }\n');

async function plan(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runPlanCommand(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
  });
  return { code, out, err };
}

describe('kube-remediator plan (offline)', () => {
  const base = [
    '--runbook',
    join(SAMPLES, 'fluxa-pipeline.runbook.yaml'),
    '--alert',
    alert,
    '--now',
    '2026-03-02T10:00:00Z',
  ];

  it('prints each step with its before/after, planned on what the earlier steps left', async () => {
    const r = await plan(...base, '--objects', join(SAMPLES, 'tests', 'objects.yaml'));
    expect(r.code).toBe(0);
    expect(r.out).toContain('Runbook default/fluxa-pipeline: creates Remediation fluxa-pipeline-');
    expect(r.out).toContain('ends:   Succeeded (AllStepsSucceeded)');
    expect(r.out).toMatch(
      /1\. drain-processor {2}scale {2}Succeeded[^\n]*\n {9}before: \{"replicas":3\}\n {9}after: {2}\{"replicas":0\}/,
    );
    expect(r.out).toMatch(
      /7\. restore-processor {2}scale[^\n]*\n {9}before: \{"replicas":0\}\n {9}after: {2}\{"replicas":3\}/,
    );
  });

  it('without the objects the target is missing, and says so', async () => {
    const r = await plan(...base, '-o', 'json');
    expect(r.code).toBe(0);
    const got = JSON.parse(r.out) as { runbooks: { remediation: { phase: string; message: string } }[] };
    expect(got.runbooks[0]!.remediation.phase).toBe('Failed');
    expect(got.runbooks[0]!.remediation.message).toContain('not found');
  });

  it.each([
    [['--alert', alert], '--runbook is required'],
    [['--runbook', 'x.yaml'], '--alert is required'],
    [[...base, '-o', 'xml'], '--output'],
    [[...base, '--cluster', '--objects', 'o.yaml'], 'exclude each other'],
  ])('refuses %j with exit 2', async (argv, named) => {
    const r = await plan(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(named);
  });
});
