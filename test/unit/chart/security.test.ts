/**
 * The chart's security posture (issue #17, ADR 0023), checked on `helm template`: the pod runs
 * non-root on a read-only root file system, without privilege escalation or capabilities, under
 * seccomp RuntimeDefault; new installs run Runbooks as ServiceAccounts and the operator holds no
 * rights on targets, only `impersonate` and the reviews of the approval endpoint; single-tenant
 * mode adds the target rules of config/rbac; the NetworkPolicy admits Alertmanager only.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import yaml from 'js-yaml';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';
import { helm } from '../../support/helm.js';

const CHART = join(REPO_ROOT, 'charts', 'kube-remediator');

type Obj = { kind: string; metadata: { name: string }; [k: string]: unknown };
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

async function template(args: string[] = []): Promise<Obj[]> {
  const res = await helm(['template', 'kr', CHART, '--namespace', 'kr', ...args]);
  if (res.exitCode !== 0) throw new Error(`helm template failed: ${res.stderr}`);
  return yaml.loadAll(res.stdout).filter((d): d is Obj => !!d && typeof d === 'object');
}

const byKind = (objs: Obj[], kind: string): Obj[] => objs.filter((o) => o.kind === kind);
const rulesOf = (o: unknown): Rule[] => (o as { rules: Rule[] }).rules;

describe('chart security', () => {
  it('pod security: non-root, read-only root fs, no privilege escalation, no capabilities, seccomp RuntimeDefault', async () => {
    const d = byKind(await template(), 'Deployment')[0] as unknown as {
      spec: {
        template: {
          spec: {
            securityContext: Record<string, unknown>;
            containers: { securityContext: Record<string, unknown> }[];
          };
        };
      };
    };
    const pod = d.spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.securityContext.runAsUser).not.toBe(0);
    for (const c of pod.containers)
      expect(c.securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
  });

  it('new installs: identity.mode serviceAccount, and no rights on targets, only impersonate and the reviews', async () => {
    const objs = await template();
    const env = (
      byKind(objs, 'Deployment')[0] as unknown as {
        spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
      }
    ).spec.template.spec.containers[0]!.env;
    expect(env.find((e) => e.name === 'KR_IDENTITY_MODE')?.value).toBe('serviceAccount');
    const roles = byKind(objs, 'ClusterRole');
    expect(roles.map((r) => r.metadata.name)).toEqual(['kr-kube-remediator']);
    const rules = rulesOf(roles[0]);
    expect(rules).toContainEqual({ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] });
    expect(rules).toContainEqual({
      apiGroups: ['authentication.k8s.io'],
      resources: ['tokenreviews'],
      verbs: ['create'],
    });
    expect(rules).toContainEqual({
      apiGroups: ['authorization.k8s.io'],
      resources: ['subjectaccessreviews'],
      verbs: ['create'],
    });
    const touched = rules.flatMap((r) => r.resources);
    for (const target of ['deployments', 'deployments/scale', 'pods', 'secrets', 'statefulsets'])
      expect(touched).not.toContain(target);
  });

  it('single-tenant mode adds the target rules of config/rbac/single_tenant_role.yaml', async () => {
    const objs = await template(['--set', 'identity.mode=operator']);
    const single = byKind(objs, 'ClusterRole').find(
      (r) => r.metadata.name === 'kr-kube-remediator-single-tenant',
    );
    const want = yaml.load(
      await readFile(join(REPO_ROOT, 'config', 'rbac', 'single_tenant_role.yaml'), 'utf8'),
    );
    expect(rulesOf(single)).toEqual(rulesOf(want));
    expect(byKind(objs, 'ClusterRoleBinding').map((b) => b.metadata.name)).toContain(
      'kr-kube-remediator-single-tenant',
    );
  });

  it('the NetworkPolicy admits the webhook from Alertmanager only, and /metrics from monitoring', async () => {
    expect(byKind(await template(), 'NetworkPolicy')).toEqual([]);
    const objs = await template([
      '--set',
      'networkPolicy.enabled=true',
      '--set',
      'networkPolicy.alertmanagerNamespaceSelector.matchLabels.team=observability',
    ]);
    const np = byKind(objs, 'NetworkPolicy')[0] as unknown as {
      spec: {
        policyTypes: string[];
        ingress: { from: Record<string, unknown>[]; ports: { port: string }[] }[];
      };
    };
    expect(np.spec.policyTypes).toEqual(['Ingress']);
    const webhook = np.spec.ingress.find((i) => i.ports.some((p) => p.port === 'webhook'))!;
    expect(webhook.from).toEqual([
      {
        namespaceSelector: {
          matchLabels: { 'kubernetes.io/metadata.name': 'monitoring', team: 'observability' },
        },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'alertmanager' } },
      },
    ]);
    expect(np.spec.ingress.flatMap((i) => i.ports.map((p) => p.port)).sort()).toEqual(['probes', 'webhook']);
  });
});
