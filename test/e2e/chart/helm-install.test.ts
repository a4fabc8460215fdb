/**
 * `helm install` of charts/kube-remediator into the real control plane: every object is
 * accepted by a v1.20 API server, the CRDs of the chart are in place, and the RBAC it creates
 * grants what the operator needs and nothing more (checked with `kubectl auth can-i --as`).
 * No kubelet runs the image here, so the test asserts the objects, not running pods.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';
import { helm } from '../../support/helm.js';
import { createNamespace, deleteNamespace, kubectl, testClients } from '../../support/kube.js';
import { createSampleNamespaces, sampleFiles, SAMPLES_DIR } from '../../support/samples.js';
import { OPERATOR_BUNDLE, OPERATOR_NODE_FLAGS } from '../../../src/cli/node-flags.js';

const CHART = join(REPO_ROOT, 'charts', 'kube-remediator');

describe('helm install charts/kube-remediator', () => {
  let ns: string;
  const release = `kr-${randomBytes(3).toString('hex')}`;
  const fullname = `${release}-kube-remediator`;
  let sa: string;

  beforeAll(async () => {
    ns = await createNamespace('helm');
    sa = `system:serviceaccount:${ns}:${fullname}`;
    const res = await helm([
      'install', release, CHART,
      '--namespace', ns,
      '--set', 'store.kind=redis',
      '--set', 'store.redis.url=redis://redis.example:6379/0',
      '--set', 'podDisruptionBudget.enabled=true',
      '--timeout', '60s',
    ]); // prettier-ignore
    if (res.exitCode !== 0) throw new Error(`helm install failed: ${res.stderr}\n${res.stdout}`);
  });

  afterAll(async () => {
    await helm(['uninstall', release, '--namespace', ns, '--timeout', '60s']);
    await deleteNamespace(ns);
  });

  it('is deployed, and helm lists the release', async () => {
    const res = await helm(['status', release, '--namespace', ns, '-o', 'json']);
    expect(res.exitCode).toBe(0);
    const status = JSON.parse(res.stdout) as { info: { status: string; notes: string } };
    expect(status.info.status).toBe('deployed');
    expect(status.info.notes).toContain('send_resolved: true');
    expect(status.info.notes).toContain('credentials_file');
  });

  it('creates the Deployment, ServiceAccount, Service, webhook Secret and PodDisruptionBudget', async () => {
    const c = testClients();
    const d = await c.apps.readNamespacedDeployment({ name: fullname, namespace: ns });
    expect(d.spec?.replicas).toBe(2);
    const container = d.spec!.template.spec!.containers[0]!;
    expect(container.command).toEqual(['node', ...OPERATOR_NODE_FLAGS, OPERATOR_BUNDLE, 'run']);
    expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
    const env = new Map((container.env ?? []).map((e) => [e.name, e.value]));
    expect(env.get('KR_STORE')).toBe('redis');
    expect(env.get('KR_LEADER_ELECTION_NAMESPACE')).toBe(ns);
    expect(env.get('KR_WEBHOOK_BEARER_TOKEN_FILE')).toBe('/etc/kube-remediator/webhook/token');
    expect(d.spec!.template.spec!.serviceAccountName).toBe(fullname);

    await c.core.readNamespacedServiceAccount({ name: fullname, namespace: ns });
    const svc = await c.core.readNamespacedService({ name: fullname, namespace: ns });
    expect(svc.spec?.ports?.map((p) => [p.name, p.port])).toEqual([
      ['webhook', 9095],
      ['metrics', 8080],
    ]);
    const secret = await c.core.readNamespacedSecret({ name: `${fullname}-webhook`, namespace: ns });
    expect(Buffer.from(secret.data!.token!, 'base64').length).toBeGreaterThanOrEqual(32);
    // A v1.20 server has no policy/v1: the chart picks policy/v1beta1 from the server version.
    const pdb = await kubectl(['get', 'poddisruptionbudgets.v1beta1.policy', fullname, '-o', 'name'], {
      namespace: ns,
    });
    expect(pdb.exitCode).toBe(0);
  });

  it('keeps the generated webhook token across helm upgrade', async () => {
    const before = await testClients().core.readNamespacedSecret({
      name: `${fullname}-webhook`,
      namespace: ns,
    });
    const res = await helm([
      'upgrade',
      release,
      CHART,
      '--namespace',
      ns,
      '--reuse-values',
      '--set',
      'logLevel=debug',
    ]);
    expect(res.exitCode).toBe(0);
    const after = await testClients().core.readNamespacedSecret({
      name: `${fullname}-webhook`,
      namespace: ns,
    });
    expect(after.data!.token).toBe(before.data!.token);
  });

  it('has the CRDs Established', async () => {
    for (const crd of ['runbooks.kube-remediator.io', 'remediations.kube-remediator.io']) {
      const res = await kubectl([
        'get',
        'crd',
        crd,
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Established")].status}',
      ]);
      expect(res.stdout).toBe('True');
    }
  });

  it('the API server accepts every sample in config/samples (server-side dry run)', async () => {
    const files = sampleFiles();
    expect(files).toHaveLength(15);
    await createSampleNamespaces();
    for (const f of files) {
      const res = await kubectl(['apply', '--dry-run=server', '-f', join(SAMPLES_DIR, f)]);
      expect([f, res.exitCode, res.stderr]).toEqual([f, 0, '']);
    }
  });

  it('creates RBAC that grants what the operator does and nothing more', async () => {
    const can = async (verb: string, resource: string, namespace?: string): Promise<boolean> => {
      const where = namespace ? ['-n', namespace] : ['-A'];
      const res = await kubectl(['auth', 'can-i', verb, resource, '--as', sa, ...where]);
      return res.stdout.trim() === 'yes';
    };
    const granted: [string, string, string?][] = [
      ['watch', 'runbooks.kube-remediator.io'],
      ['create', 'remediations.kube-remediator.io'],
      ['patch', 'remediations.kube-remediator.io/status'],
      ['create', 'events'],
      // identity.mode serviceAccount (the chart's default, ADR 0023): targets are read and
      // changed as the Runbook's ServiceAccount, so the operator only impersonates.
      ['impersonate', 'serviceaccounts'],
      ['create', 'tokenreviews.authentication.k8s.io'],
      ['create', 'subjectaccessreviews.authorization.k8s.io'],
      ['update', 'leases.coordination.k8s.io', ns],
    ];
    const refused: [string, string, string?][] = [
      ['patch', 'deployments.apps'],
      ['delete', 'pods'],
      ['get', 'secrets'],
      ['list', 'secrets'],
      ['delete', 'deployments.apps'],
      ['create', 'deployments.apps'],
      ['patch', 'configmaps'],
      ['delete', 'namespaces'],
      ['update', 'leases.coordination.k8s.io', 'default'],
      ['escalate', 'clusterroles.rbac.authorization.k8s.io'],
    ];
    for (const [verb, resource, where] of granted)
      expect([verb, resource, await can(verb, resource, where)]).toEqual([verb, resource, true]);
    for (const [verb, resource, where] of refused)
      expect([verb, resource, await can(verb, resource, where)]).toEqual([verb, resource, false]);
  });
});
