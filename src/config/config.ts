/**
 * Operator configuration: defaults, then an optional YAML file (`--config` or KR_CONFIG),
 * then environment variables (KR_*), then command-line flags. Validated once and frozen.
 * Every option is listed in ENV_VARS with its description; README's table is made from it.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Type, type Static, type TString } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import yaml from 'js-yaml';
import { ERROR_CODES, RemediatorError } from '../util/errors.js';
import { DURATION } from '../api/v1alpha1/schema.js';
import { outboundPolicy } from '../security/outbound.js';

const Duration = (description: string, def: string): TString =>
  Type.String({ pattern: DURATION, description, default: def });

export const ConfigSchema = Type.Object({
  kubeconfig: Type.String({
    default: '',
    description: 'Path to a kubeconfig; empty means $KUBECONFIG, ~/.kube/config, then in-cluster.',
  }),
  clusterName: Type.String({
    default: '',
    maxLength: 253,
    pattern: '^\\S*$',
    description:
      "Name of this cluster, stored on every audit row so that several clusters can share one audit database; empty means the kubeconfig's current context (none in a pod: set it there).",
  }),
  watchNamespace: Type.String({
    default: '',
    description: 'Only watch this namespace; empty watches all namespaces.',
  }),
  logLevel: Type.Union(
    [Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug')],
    { default: 'info', description: 'Log level.' },
  ),
  probes: Type.Object({
    host: Type.String({
      default: '0.0.0.0',
      description: 'Address of the /healthz, /readyz and /metrics server.',
    }),
    port: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 8080,
      description: 'Port of the /healthz, /readyz and /metrics server (0 picks a free port).',
    }),
  }),
  leaderElection: Type.Object({
    enabled: Type.Boolean({
      default: true,
      description: 'Elect a leader through a coordination.k8s.io/v1 Lease; only the leader acts.',
    }),
    namespace: Type.String({
      default: '',
      description: "Namespace of the Lease; default the pod's namespace, else `default`.",
    }),
    leaseName: Type.String({ default: 'kube-remediator', description: 'Name of the Lease.' }),
    identity: Type.String({ default: '', description: 'Holder identity; default hostname_pid.' }),
    leaseDuration: Duration(
      'How long a Lease is valid without renewal; a standby takes over after it.',
      '15s',
    ),
    renewDeadline: Duration('How long the leader keeps trying to renew before it steps down.', '10s'),
    retryPeriod: Duration('How often to try to acquire or renew.', '2s'),
  }),
  controller: Type.Object({
    workers: Type.Integer({
      minimum: 1,
      maximum: 64,
      default: 4,
      description: 'Remediations reconciled in parallel (each key is still serial).',
    }),
    maxConcurrentRemediations: Type.Integer({
      minimum: 1,
      maximum: 10000,
      default: 20,
      description: 'Cluster-wide budget of Remediations running at once; the rest wait in Pending.',
    }),
    maxBackoff: Duration('Cap of the exponential retry backoff of a failing reconcile.', '5m'),
    defaultStepTimeout: Duration('Step timeout when the step sets none.', '2m'),
    targetCache: Type.Boolean({
      default: true,
      description:
        'Plan rolloutRestart, scale and setEnv on Deployments, StatefulSets and DaemonSets from an informer cache (started per kind on first use, in watchNamespace or all namespaces; needs list/watch on them) instead of a GET per step. The change applies only onto the spec it was planned on, so a stale cache costs a second read, never a wrong `before`. Off: less memory on clusters with many workloads.',
    }),
  }),
  gitops: Type.Object({
    defaultPolicy: Type.Union([Type.Literal('Refuse'), Type.Literal('Pause'), Type.Literal('Coexist')], {
      default: 'Refuse',
      description:
        "What a Runbook without `gitops.policy` does with a target that Argo CD or Flux deploys: Refuse (change nothing), Pause (pause the owner's self-heal for the change; needs the chart's `gitops.pauseRbac`), Coexist (change it anyway as field manager kube-remediator).",
    }),
    defaultMaxPause: Duration(
      'Under Pause: restore the owner after this long at the latest, when the Runbook sets no `gitops.maxPause`.',
      '30m',
    ),
    argocdNamespace: Type.String({
      default: 'argocd',
      description:
        "Argo CD's own namespace: where the Application of a tracking id without `<namespace>_` lives.",
    }),
    argocdTrackingLabel: Type.String({
      default: '',
      description:
        "Set when the cluster's Argo CD tracks resources by label (Argo CD 2.x default, `app.kubernetes.io/instance`): that label then names the Application. Empty: only the tracking-id annotation counts (Helm sets the same label, so it is not taken for Argo CD).",
    }),
    driftCheckInterval: Duration(
      'How often a finished Remediation on a GitOps-deployed target re-reads what it changed, to notice a change put back.',
      '30s',
    ),
    driftWatch: Duration(
      'How long after it finished a Remediation keeps checking for drift (the pause, if any, counts on top).',
      '1h',
    ),
  }),
  webhook: Type.Object({
    enabled: Type.Boolean({ default: true, description: 'Serve the Alertmanager webhook.' }),
    host: Type.String({ default: '0.0.0.0', description: 'Address the webhook listens on.' }),
    port: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 9095,
      description: 'Port the webhook listens on (0 picks a free port).',
    }),
    path: Type.String({
      default: '/api/v1/alerts',
      pattern: '^/',
      description: 'Path Alertmanager posts to.',
    }),
    bodyLimit: Type.Integer({
      minimum: 1024,
      default: 1048576,
      description: 'Largest accepted body in bytes (413 above).',
    }),
    auth: Type.Object({
      disabled: Type.Boolean({
        default: false,
        description: 'Accept unauthenticated webhooks. Logged as a warning at start.',
      }),
      bearerTokenFile: Type.String({
        default: '',
        description: 'File holding the bearer token (a mounted Secret).',
      }),
      bearerToken: Type.String({ default: '', description: 'The bearer token itself (prefer the file).' }),
      basicUsername: Type.String({ default: '', description: 'Basic-auth user name.' }),
      basicPasswordFile: Type.String({ default: '', description: 'File holding the basic-auth password.' }),
      basicPassword: Type.String({
        default: '',
        description: 'The basic-auth password itself (prefer the file).',
      }),
      allowQueryToken: Type.Boolean({
        default: false,
        description: 'Also accept the bearer token as `?token=` for senders that cannot set headers.',
      }),
    }),
    tls: Type.Object({
      certFile: Type.String({
        default: '',
        description:
          'PEM certificate (chain) the webhook port serves HTTPS with, e.g. `tls.crt` of a mounted `kubernetes.io/tls` Secret. Set with keyFile; both empty: plain HTTP. Re-read when it changes, without a restart.',
      }),
      keyFile: Type.String({
        default: '',
        description: 'PEM private key of certFile, e.g. `tls.key` of the same Secret.',
      }),
      reloadInterval: Duration(
        'How often the certificate and key are re-read besides the directory watch (which sees a Secret update at once where the filesystem reports it).',
        '1m',
      ),
    }),
  }),
  identity: Type.Object({
    mode: Type.Union([Type.Literal('operator'), Type.Literal('serviceAccount')], {
      default: 'operator',
      description:
        "Whose rights a Runbook's steps use. `serviceAccount` (the chart's default, multi-tenant): every read and change of a target and every secretKeyRef is made impersonating the Runbook's `spec.serviceAccountName` (else defaultServiceAccount) of its own namespace, so RBAC decides; approval only through `kube-remediator approve|reject`. `operator` (single-tenant, as before 0.2): the operator's own rights, annotation approval; logged as a warning at start.",
    }),
    defaultServiceAccount: Type.String({
      default: 'default',
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
      maxLength: 253,
      description:
        "The ServiceAccount (of the Runbook's namespace) a Runbook without serviceAccountName runs as in `serviceAccount` mode. `default` has no rights unless someone granted them.",
    }),
  }),
  approvals: Type.Object({
    enabled: Type.Boolean({
      default: true,
      description:
        'Serve `POST /approvals/v1/namespaces/{ns}/remediations/{name}` on the webhook port for `kube-remediator approve|reject`: the bearer token is checked with a TokenReview, the user with a SubjectAccessReview for verb `approve` on `remediations` (group kube-remediator.io) in that namespace.',
    }),
    fourEyes: Type.Boolean({
      default: false,
      description:
        'Four eyes: an approval (of the run or a step) by the user who created the Remediation (annotation `kube-remediator.io/created-by`) is refused, with reason SelfApprovalRefused. The annotation is trustworthy only with the ValidatingAdmissionPolicy the chart renders for this setting (it must equal the creating user and never change).',
    }),
  }),
  outbound: Type.Object({
    allow: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), {
      default: [],
      maxItems: 256,
      description:
        'Hosts and CIDRs that httpCall, notify and checks (httpCheck, prometheusQuery, redis, postgres) may reach, e.g. `[prometheus.monitoring.svc, 10.0.0.0/8, "*.example.com"]`. A host name is also checked by the addresses it resolves to against the CIDRs. Empty: no restriction (off).',
    }),
  }),
  store: Type.Object({
    kind: Type.Union([Type.Literal('memory'), Type.Literal('redis'), Type.Literal('postgres')], {
      default: 'memory',
      description: 'Where cooldowns and rate limits live. memory is per process.',
    }),
    redisUrl: Type.String({
      default: '',
      description:
        'Redis URL for store.kind=redis, e.g. redis://127.0.0.1:6379/0. One Redis server, not Redis ' +
        "Cluster: one script takes a webhook group's keys together.",
    }),
    postgresUrl: Type.String({ default: '', description: 'PostgreSQL URL for store.kind=postgres.' }),
    probeInterval: Duration('While in fallback, how often to check whether the store is back.', '2s'),
    keyPrefix: Type.String({ default: 'kube-remediator:', description: 'Prefix of every Redis key.' }),
  }),
  retention: Type.Object({
    successfulHistoryLimit: Type.Integer({
      minimum: 0,
      maximum: 10000,
      default: 20,
      description:
        'Finished Remediations per Runbook that did not fail kept in the cluster (Runbook spec.successfulHistoryLimit overrides). The audit log is the long history.',
    }),
    failedHistoryLimit: Type.Integer({
      minimum: 0,
      maximum: 10000,
      default: 20,
      description:
        'Finished Remediations per Runbook that failed or were blocked kept in the cluster (Runbook spec.failedHistoryLimit overrides).',
    }),
    ttlSecondsAfterFinished: Type.Integer({
      minimum: 0,
      default: 604800,
      description:
        'Seconds after it finished when a Remediation is deleted (Runbook spec.ttlSecondsAfterFinished overrides); default 7 days.',
    }),
  }),
  audit: Type.Object({
    postgresUrl: Type.String({
      default: '',
      description: 'PostgreSQL URL of the audit log; empty turns audit off.',
    }),
    outboxLimit: Type.Integer({
      minimum: 1,
      default: 10000,
      description:
        'Audit rows held in memory while PostgreSQL is down; beyond it rows are dropped and counted.',
    }),
    flushInterval: Duration('How often the outbox retries while PostgreSQL is down.', '2s'),
  }),
});
export type Config = Static<typeof ConfigSchema>;

/** Environment variables and the config path each one sets. */
export const ENV_VARS: Record<string, string> = {
  KUBECONFIG: 'kubeconfig',
  KR_CLUSTER_NAME: 'clusterName',
  KR_WATCH_NAMESPACE: 'watchNamespace',
  KR_LOG_LEVEL: 'logLevel',
  KR_PROBES_HOST: 'probes.host',
  KR_PROBES_PORT: 'probes.port',
  KR_LEADER_ELECTION: 'leaderElection.enabled',
  KR_LEADER_ELECTION_NAMESPACE: 'leaderElection.namespace',
  KR_LEASE_NAME: 'leaderElection.leaseName',
  KR_LEADER_IDENTITY: 'leaderElection.identity',
  KR_LEASE_DURATION: 'leaderElection.leaseDuration',
  KR_RENEW_DEADLINE: 'leaderElection.renewDeadline',
  KR_RETRY_PERIOD: 'leaderElection.retryPeriod',
  KR_WORKERS: 'controller.workers',
  KR_MAX_CONCURRENT_REMEDIATIONS: 'controller.maxConcurrentRemediations',
  KR_MAX_BACKOFF: 'controller.maxBackoff',
  KR_DEFAULT_STEP_TIMEOUT: 'controller.defaultStepTimeout',
  KR_TARGET_CACHE: 'controller.targetCache',
  KR_GITOPS_DEFAULT_POLICY: 'gitops.defaultPolicy',
  KR_GITOPS_DEFAULT_MAX_PAUSE: 'gitops.defaultMaxPause',
  KR_GITOPS_ARGOCD_NAMESPACE: 'gitops.argocdNamespace',
  KR_GITOPS_ARGOCD_TRACKING_LABEL: 'gitops.argocdTrackingLabel',
  KR_GITOPS_DRIFT_CHECK_INTERVAL: 'gitops.driftCheckInterval',
  KR_GITOPS_DRIFT_WATCH: 'gitops.driftWatch',
  KR_WEBHOOK_ENABLED: 'webhook.enabled',
  KR_WEBHOOK_HOST: 'webhook.host',
  KR_WEBHOOK_PORT: 'webhook.port',
  KR_WEBHOOK_PATH: 'webhook.path',
  KR_WEBHOOK_BODY_LIMIT: 'webhook.bodyLimit',
  KR_WEBHOOK_AUTH_DISABLED: 'webhook.auth.disabled',
  KR_WEBHOOK_BEARER_TOKEN_FILE: 'webhook.auth.bearerTokenFile',
  KR_WEBHOOK_BEARER_TOKEN: 'webhook.auth.bearerToken',
  KR_WEBHOOK_BASIC_USERNAME: 'webhook.auth.basicUsername',
  KR_WEBHOOK_BASIC_PASSWORD_FILE: 'webhook.auth.basicPasswordFile',
  KR_WEBHOOK_BASIC_PASSWORD: 'webhook.auth.basicPassword',
  KR_WEBHOOK_ALLOW_QUERY_TOKEN: 'webhook.auth.allowQueryToken',
  KR_WEBHOOK_TLS_CERT_FILE: 'webhook.tls.certFile',
  KR_WEBHOOK_TLS_KEY_FILE: 'webhook.tls.keyFile',
  KR_WEBHOOK_TLS_RELOAD_INTERVAL: 'webhook.tls.reloadInterval',
  KR_IDENTITY_MODE: 'identity.mode',
  KR_DEFAULT_SERVICE_ACCOUNT: 'identity.defaultServiceAccount',
  KR_APPROVALS_ENABLED: 'approvals.enabled',
  KR_APPROVALS_FOUR_EYES: 'approvals.fourEyes',
  KR_OUTBOUND_ALLOW: 'outbound.allow',
  KR_STORE: 'store.kind',
  KR_REDIS_URL: 'store.redisUrl',
  KR_STORE_POSTGRES_URL: 'store.postgresUrl',
  KR_STORE_PROBE_INTERVAL: 'store.probeInterval',
  KR_REDIS_KEY_PREFIX: 'store.keyPrefix',
  KR_RETENTION_SUCCESSFUL_HISTORY_LIMIT: 'retention.successfulHistoryLimit',
  KR_RETENTION_FAILED_HISTORY_LIMIT: 'retention.failedHistoryLimit',
  KR_RETENTION_TTL_SECONDS_AFTER_FINISHED: 'retention.ttlSecondsAfterFinished',
  KR_AUDIT_POSTGRES_URL: 'audit.postgresUrl',
  KR_AUDIT_OUTBOX_LIMIT: 'audit.outboxLimit',
  KR_AUDIT_FLUSH_INTERVAL: 'audit.flushInterval',
};

/** Settings that are lists: comma-separated in environment variables. */
const LIST_SETTINGS = new Set(['outbound.allow']);

/** Flags of `kube-remediator run` that set an option, and the config path each one sets. */
export const RUN_FLAGS: Record<string, string> = {
  '--kubeconfig': 'kubeconfig',
  '--cluster-name': 'clusterName',
  '--namespace': 'watchNamespace',
  '--probes-port': 'probes.port',
  '--webhook-port': 'webhook.port',
  '--store': 'store.kind',
  '--redis-url': 'store.redisUrl',
  '--audit-postgres-url': 'audit.postgresUrl',
  '--log-level': 'logLevel',
};

/** How a person sets an option, for messages: `webhook.port (env KR_WEBHOOK_PORT, flag --webhook-port)`. */
export function settingName(path: string): string {
  const env = Object.entries(ENV_VARS).find(([, p]) => p === path)?.[0];
  const flag = Object.entries(RUN_FLAGS).find(([, p]) => p === path)?.[0];
  const ways = [env && `env ${env}`, flag && `flag ${flag}`].filter(Boolean).join(', ');
  return ways ? `${path} (${ways})` : path;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (typeof cur[p] !== 'object' || cur[p] === null) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

function deepMerge(into: Record<string, unknown>, from: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(from)) {
    if (v && typeof v === 'object' && !Array.isArray(v) && typeof into[k] === 'object' && into[k] !== null) {
      deepMerge(into[k] as Record<string, unknown>, v as Record<string, unknown>);
    } else into[k] = v;
  }
  return into;
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Overrides as config paths, e.g. `{'webhook.port': 0}` (from flags or tests). */
  overrides?: Record<string, unknown>;
}

/** Loads, converts and validates the configuration; throws KR_ERR_CONFIG naming the bad field. */
export function loadConfig(opts: LoadOptions = {}): Readonly<Config> {
  const env = opts.env ?? process.env;
  const raw: Record<string, unknown> = Value.Create(ConfigSchema);
  const file = opts.file ?? env.KR_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = yaml.load(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new RemediatorError(
        ERROR_CODES.config,
        `cannot read config file ${file}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (parsed && typeof parsed === 'object') deepMerge(raw, parsed as Record<string, unknown>);
  }
  for (const [name, path] of Object.entries(ENV_VARS)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    // Lists are comma-separated in the environment.
    setPath(
      raw,
      path,
      LIST_SETTINGS.has(path)
        ? v
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
        : v,
    );
  }
  for (const [path, v] of Object.entries(opts.overrides ?? {})) setPath(raw, path, v);

  const converted = Value.Convert(ConfigSchema, raw);
  const errors = [...Value.Errors(ConfigSchema, converted)];
  if (errors.length > 0) {
    const e = errors[0]!;
    const field = e.path.replace(/^\//, '').replace(/\//g, '.');
    const envName = Object.entries(ENV_VARS).find(([, p]) => p === field)?.[0];
    throw new RemediatorError(
      ERROR_CODES.config,
      `invalid config ${field}${envName ? ` (env ${envName})` : ''}: ${e.message}, got ${JSON.stringify(e.value)}`,
    );
  }
  const cfg = converted as Config;
  if (!cfg.leaderElection.identity) cfg.leaderElection.identity = `${hostname()}_${process.pid}`;
  // A malformed CIDR in outbound.allow stops the start, naming the entry.
  outboundPolicy(cfg.outbound.allow);
  if (cfg.store.kind === 'redis' && !cfg.store.redisUrl) {
    throw new RemediatorError(ERROR_CODES.config, 'store.kind=redis needs store.redisUrl (env KR_REDIS_URL)');
  }
  if (cfg.store.kind === 'postgres' && !cfg.store.postgresUrl) {
    throw new RemediatorError(
      ERROR_CODES.config,
      'store.kind=postgres needs store.postgresUrl (env KR_STORE_POSTGRES_URL)',
    );
  }
  return deepFreeze(cfg);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
