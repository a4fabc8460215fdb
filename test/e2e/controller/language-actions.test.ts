/**
 * The #12 action additions through the reconcilers on the real control plane: what steps read
 * lands in the Remediation's status and its audit rows; httpCall assertions decide the step;
 * bad input leaves the Runbook Ready=False naming the field, and nothing runs.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONDITION_TYPES, REASONS } from '../../../src/api/v1alpha1/constants.js';
import type { RemediationSpec, RunbookSpec, Step } from '../../../src/api/v1alpha1/schema.js';
import { findCondition } from '../../../src/api/v1alpha1/conditions.js';
import { runbooks } from '../../../src/kube/resources.js';
import { startFakeKubelet, type FakeKubelet } from '../../../tools/cluster/fake-kubelet.js';
import {
  createDeployment,
  createNamespace,
  deleteNamespace,
  testClients,
  testKubeConfig,
  waitDeploymentReady,
} from '../../support/kube.js';
import {
  createRemediation,
  createRunbook,
  harness,
  reconcileRunbook,
  reconcileUntilStable,
} from './helpers.js';

const REDIS_URL = process.env.KR_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const PG_URL = process.env.KR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const target = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'backend' };
const alert: RemediationSpec['alert'] = { name: 'BackendDown', status: 'firing', labels: {} };

/**
 * A stand-in for the dedup store's submission endpoint (an app's HTTP API: nothing real runs
 * here): the first submission of a PCS is accepted, a repeat says duplicate.
 */
function dedupApp(): Server {
  const seen = new Set<string>();
  return createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const id = (JSON.parse(body || '{}') as { pcs?: string }).pcs ?? '';
      const duplicate = seen.has(id);
      seen.add(id);
      res
        .writeHead(duplicate ? 200 : 201, { 'content-type': 'application/json' })
        .end(JSON.stringify({ pcs: id, duplicate, token: 'sekrit-token-1234' }));
    });
  });
}

describe('the action additions through the reconcilers', () => {
  let ns: string;
  let kubelet: FakeKubelet;
  let app: Server;
  let appUrl: string;

  beforeAll(async () => {
    ns = await createNamespace('lang-act');
    kubelet = startFakeKubelet(testKubeConfig(), { namespace: ns });
    await kubelet.serveLogs(ns, 'backend-', (pod) => ({
      lines: [
        `${pod} GET /health 200`,
        `${pod} POST /pcs 503 redis: connection refused`,
        `${pod} GET /health 200`,
      ],
    }));
    await createDeployment(ns, 'backend', { replicas: 2 });
    await waitDeploymentReady(ns, 'backend');
    app = dedupApp();
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await kubelet.stopLogs();
    kubelet.stop();
    await new Promise((r) => app.close(r));
    await deleteNamespace(ns);
  });

  async function ready(name: string, spec: RunbookSpec) {
    await createRunbook(ns, name, spec);
    await reconcileRunbook(harness(), { namespace: ns, name });
    const rb = await runbooks(testClients()).get(ns, name);
    return findCondition(rb.status?.conditions, CONDITION_TYPES.ready);
  }

  it('diagnostics before the restart: Redis persistence, sessions and the 503s are recorded, in status and audit', async () => {
    const steps: Step[] = [
      {
        name: 'redis-persistence',
        action: 'redisCheck',
        redisCheck: {
          url: REDIS_URL,
          command: ['INFO', 'persistence'],
          record: true,
          expectMatch: '(?m)^loading:0\\r?$',
        },
      },
      {
        name: 'sessions',
        action: 'postgresCheck',
        postgresCheck: {
          url: PG_URL,
          query: 'SELECT pid, state, backend_type FROM pg_stat_activity ORDER BY pid',
          recordRows: 5,
        },
      },
      { name: 'backend-503s', action: 'podLogs', podLogs: { match: '\\b503\\b', tailLines: 100 } },
      { name: 'restart', action: 'rolloutRestart', rolloutRestart: {} },
    ];
    expect(await ready('diagnose', { target, steps })).toMatchObject({ status: 'True' });
    const h = harness();
    await createRemediation(ns, 'diagnose-1', { runbookRef: { name: 'diagnose' }, alert });
    const rem = await reconcileUntilStable(h, { namespace: ns, name: 'diagnose-1' });

    expect(rem.status?.phase).toBe('Succeeded');
    const [persistence, sessions, logs] = rem.status!.steps!;
    expect(persistence!.output).toMatchObject({
      reply: expect.stringMatching(/^# Persistence\r\nloading:0\r\n/),
    });
    expect(sessions!.output).toMatchObject({
      columns: ['pid', 'state', 'backend_type'],
      rowCount: expect.any(Number),
    });
    const pods = (logs!.output as { pods: { name: string; lines: string[] }[] }).pods;
    expect(pods).toHaveLength(2);
    for (const p of pods) expect(p.lines).toEqual([`${p.name} POST /pcs 503 redis: connection refused`]);
    // The same records in the audit rows of the steps.
    const finished = h.audit.rows.filter((r) => r.event === 'step_finished' && r.step === 'backend-503s');
    expect(finished[0]?.details).toMatchObject({ output: { pods: expect.any(Array) } });
  });

  it('httpCall.expect: the repeat must say duplicate; the responses are recorded', async () => {
    const submit = (name: string, expect_: object): Step => ({
      name,
      action: 'httpCall',
      httpCall: {
        url: `${appUrl}/pcs`,
        body: '{"pcs":"pcs-42"}',
        headers: { 'content-type': 'application/json' },
        expect: expect_,
      },
    });
    const steps = [
      submit('submit', { status: [201] }),
      submit('submit-again', {
        status: [200],
        json: [
          { path: '$.duplicate', equals: 'true' },
          { path: '$.pcs', equals: 'pcs-42' },
        ],
      }),
    ];
    expect(await ready('dedup', { steps })).toMatchObject({ status: 'True' });
    const h = harness();
    await createRemediation(ns, 'dedup-1', { runbookRef: { name: 'dedup' }, alert });
    const rem = await reconcileUntilStable(h, { namespace: ns, name: 'dedup-1' });
    expect(rem.status?.phase).toBe('Succeeded');
    expect(rem.status?.steps?.[1]).toMatchObject({
      phase: 'Succeeded',
      // the token in the answer is masked in the record
      output: { status: 200, body: '{"pcs":"pcs-42","duplicate":true,"token":"***"}' },
    });

    // A store that does not deduplicate: the first answer is no duplicate, the step fails.
    await createRemediation(ns, 'dedup-2', {
      steps: [
        {
          name: 'must-be-duplicate',
          action: 'httpCall',
          httpCall: {
            url: `${appUrl}/pcs`,
            body: '{"pcs":"pcs-new"}',
            expect: { json: [{ path: '$.duplicate', equals: 'true' }] },
          },
        },
      ],
      alert,
    });
    const failed = await reconcileUntilStable(h, { namespace: ns, name: 'dedup-2' });
    expect(failed.status?.phase).toBe('Failed');
    expect(failed.status?.steps?.[0]).toMatchObject({
      phase: 'Failed',
      message: expect.stringMatching(/returned 201, but \$\.duplicate is "false", expected "true"$/),
      output: { status: 201, body: expect.stringContaining('"duplicate":false') },
    });
  });

  it('bad input: Ready=False naming the field, and a Remediation of it runs nothing', async () => {
    const logsOfConfigMap = await ready('logs-of-configmap', {
      steps: [
        { name: 'logs', action: 'podLogs', target: { apiVersion: 'v1', kind: 'ConfigMap', name: 'cfg' } },
      ],
    });
    expect(logsOfConfigMap).toMatchObject({
      status: 'False',
      reason: REASONS.invalid,
      message: expect.stringContaining(
        'steps[0].target.kind: podLogs works on Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod, not ConfigMap',
      ),
    });
    const longStatement = await ready('long-statement', {
      steps: [
        {
          name: 'vacuum',
          action: 'postgresQuery',
          postgresQuery: { url: PG_URL, query: 'VACUUM', statementTimeout: '5m' },
        },
      ],
    });
    expect(longStatement).toMatchObject({
      status: 'False',
      message: expect.stringContaining(
        "steps[0].postgresQuery.statementTimeout: 5m is longer than the step's timeout",
      ),
    });

    const h = harness();
    await createRemediation(ns, 'logs-1', { runbookRef: { name: 'logs-of-configmap' }, alert });
    const rem = await reconcileUntilStable(
      h,
      { namespace: ns, name: 'logs-1' },
      (r) => r.status?.phase !== undefined,
    );
    expect(rem.status?.steps?.some((s) => s.startedAt)).toBeFalsy();

    // What the CRD's schema can say, the API server refuses at once, naming the field.
    await expect(
      createRunbook(ns, 'no-data-maybe', {
        steps: [
          {
            name: 'q',
            action: 'prometheusQuery',
            prometheusQuery: { url: 'http://p:9090', query: 'up', noData: 'Maybe' as never },
          },
        ],
      }),
    ).rejects.toMatchObject({
      // v1.20 names the field without the list index; the body is the Status object as JSON
      body: expect.stringMatching(
        /spec\.steps(\[0\])?\.prometheusQuery\.noData: Unsupported value: \\"Maybe\\": supported values: \\"Pass\\", \\"Fail\\", \\"Wait\\"/,
      ),
    });
  });
});
