/** The CRDs on a real API server: installed, enforced, printed and explained by the real kubectl. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { createNamespace, deleteNamespace, kubectl, testKubeConfig } from '../../support/kube.js';
import { createSampleNamespaces, sampleFiles, sampleObjects, SAMPLES_DIR } from '../../support/samples.js';

function manifest(kind: string, name: string, spec: unknown): string {
  return JSON.stringify({ apiVersion: 'kube-remediator.io/v1alpha1', kind, metadata: { name }, spec });
}

/** Applies with client-side validation off, so what answers is the API server itself. */
async function applyToServer(ns: string, doc: string) {
  return kubectl(['apply', '--validate=false', '-f', '-'], { input: doc, namespace: ns });
}

describe('CRDs on a real API server', () => {
  let ns: string;
  beforeAll(async () => {
    ns = await createNamespace('api');
  });
  afterAll(async () => {
    await deleteNamespace(ns);
  });

  it('are installed and Established', async () => {
    const api = testKubeConfig().makeApiClient(k8s.ApiextensionsV1Api);
    for (const name of ['remediations.kube-remediator.io', 'runbooks.kube-remediator.io']) {
      const crd = await api.readCustomResourceDefinition({ name });
      expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
      expect(crd.spec.versions[0]!.subresources?.status).toBeDefined();
      expect(crd.spec.scope).toBe('Namespaced');
    }
  });

  it('accepts every sample with the real kubectl, as a person applies them', async () => {
    // Five seeds: a Runbook, a Remediation and the Runbook's ServiceAccount and Roles each.
    expect(sampleFiles()).toHaveLength(15);
    // The seeds' systems live in their own namespaces, which the RBAC files' Roles name.
    await createSampleNamespaces();
    const res = await kubectl(['apply', '-f', SAMPLES_DIR]);
    expect({ stderr: res.stderr, code: res.exitCode }).toEqual({ stderr: '', code: 0 });
    expect(res.stdout.split('\n').filter((l) => /(created|configured|unchanged)$/.test(l))).toHaveLength(
      sampleObjects().length,
    );
  });

  it('prints the audit columns for remediations and runbooks, with short names', async () => {
    const rem = await kubectl(['get', 'remediations', '-n', 'default']);
    expect(rem.exitCode).toBe(0);
    expect(rem.stdout.split('\n')[0]).toMatch(/^NAME\s+PHASE\s+RUNBOOK\s+TARGET\s+STEP\s+ALERT\s+AGE$/);
    expect(rem.stdout.split('\n').length).toBeGreaterThanOrEqual(6);
    const rb = await kubectl(['get', 'rb', '-n', 'default']);
    expect(rb.stdout.split('\n')[0]).toMatch(/^NAME\s+READY\s+ALERTS\s+STEPS\s+LAST FIRED\s+AGE$/);
    const short = await kubectl(['get', 'rem', '-n', 'default', '-o', 'name']);
    expect(short.stdout.split('\n').length).toBe(rem.stdout.split('\n').length - 1);
    const wide = await kubectl(['get', 'rem', '-n', 'default', '-o', 'wide']);
    expect(wide.stdout.split('\n')[0]).toContain('MESSAGE');
    const byCategory = await kubectl(['get', 'kube-remediator', '-n', 'default', '-o', 'name']);
    expect(byCategory.stdout).toContain('runbook.kube-remediator.io/');
    expect(byCategory.stdout).toContain('remediation.kube-remediator.io/');
    // the singular name is the resource, not a category that also holds Runbooks
    const singular = await kubectl(['get', 'remediation', '-n', 'default', '-o', 'name']);
    expect(singular.stdout).toContain('remediation.kube-remediator.io/');
    expect(singular.stdout).not.toContain('runbook.kube-remediator.io/');
  });

  it('explains every field (kubectl explain)', async () => {
    const res = await kubectl(['explain', 'runbook.spec.steps']);
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain('What the step does');
    expect(res.stdout).toContain('revertOnResolve');
    const rem = await kubectl(['explain', 'remediation.status.steps.before']);
    expect(rem.stdout).toContain('exact values the step changed');
  });

  it.each([
    [
      'an unknown action',
      manifest('Runbook', 'bad-action', { steps: [{ name: 's1', action: 'reboot' }] }),
      /spec\.steps\.action: Unsupported value: "reboot"/,
    ],
    [
      'negative replicas',
      manifest('Runbook', 'bad-replicas', {
        steps: [{ name: 's1', action: 'scale', scale: { replicas: -1 } }],
      }),
      /spec\.steps\.scale\.replicas.*greater than or equal to 0/,
    ],
    [
      'a step name that is not DNS-1123',
      manifest('Runbook', 'bad-step-name', {
        steps: [{ name: 'Not_DNS', action: 'notify', notify: { message: 'x' } }],
      }),
      /spec\.steps\.name.*should match/,
    ],
    [
      'an object name that is not DNS-1123',
      manifest('Runbook', 'Bad_Name', { steps: [{ name: 's', action: 'waitForRollout' }] }),
      /metadata\.name: Invalid value: "Bad_Name"/,
    ],
    ['missing steps', manifest('Runbook', 'no-steps', { triggers: [] }), /spec\.steps: Required value/],
    [
      'a runbookRef without name',
      manifest('Remediation', 'no-ref-name', { runbookRef: {} }),
      /spec\.runbookRef\.name: Required value/,
    ],
    [
      'an unknown match operator',
      manifest('Runbook', 'bad-op', {
        triggers: [{ alertname: 'A', matchers: [{ label: 'x', op: '==', value: 'y' }] }],
        steps: [{ name: 's', action: 'waitForRollout' }],
      }),
      /spec\.triggers\.matchers\.op: Unsupported value: "=="/,
    ],
    [
      'a bad duration',
      manifest('Runbook', 'bad-cooldown', {
        steps: [{ name: 's', action: 'waitForRollout' }],
        safety: { cooldown: 'ten minutes' },
      }),
      /spec\.safety\.cooldown.*should match/,
    ],
  ])('refuses %s, naming the field', async (_what, doc, message) => {
    const res = await applyToServer(ns, doc);
    expect(res.exitCode).not.toBe(0);
    expect(res.stderr).toMatch(message);
  });
});
