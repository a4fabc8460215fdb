/** Wiring only: builds every part of the operator from the configuration and starts it. */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAudit } from './audit/index.js';
import type { Config } from './config/config.js';
import { buildControllers } from './controller/index.js';
import { cachesOf, KINDS, type Kinds } from './controller/caches.js';
import { leaseNamespace } from './runtime/leader-election.js';
import { Manager } from './runtime/manager.js';
import { buildWebhookServer } from './intake/index.js';
import { contextClusterName, makeClients, type KubeClients } from './kube/client.js';
import { loadKubeTarget } from './kube/kubeconfig.js';
import { checkApiServer, installCrds, requireCrds } from './kube/preflight.js';
import { listenOrExplain } from './server/listen.js';
import { KubeReviewer } from './security/approval-endpoint.js';
import { setOutboundAllowList } from './security/outbound.js';
import { KubeEventRecorder } from './observability/events.js';
import type { Logger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { createLimitStore } from './stores/index.js';
import { systemClock } from './util/clock.js';
import { ERROR_CODES, RemediatorError } from './util/errors.js';

export interface RunningOperator {
  /** Resolves with the exit code when the operator has stopped (signal, lost leadership). */
  readonly done: Promise<number>;
  /** Graceful shutdown: readiness false, step in flight finished, Lease released. */
  stop(): Promise<void>;
  readonly manager: Manager<Kinds>;
  /** Where the webhook listens, e.g. `http://127.0.0.1:9095`, when enabled. */
  readonly webhookUrl?: string;
}

export interface OperatorOptions {
  log: Logger;
  /** Create or update the CRDs at start (development; the chart installs them in clusters). */
  installCrds?: boolean;
}

export async function startOperator(
  config: Readonly<Config>,
  opts: OperatorOptions,
): Promise<RunningOperator> {
  const { log } = opts;
  const { clients, clusterName } = await connect(config, opts);

  const metrics = createMetrics();
  const events = new KubeEventRecorder(clients.core, log);
  const store = await createLimitStore(config, { logger: log, metrics });
  const audit = await createAudit(config, { logger: log, metrics, clusterName });
  let webhook: ReturnType<typeof buildWebhookServer> | undefined;
  // After the reconciles have drained, so the last pass's Events and audit rows are kept.
  const closeSinks = async (): Promise<void> => {
    await Promise.allSettled([events.flush(), audit.close(), store.close()]);
  };

  try {
    const manager = new Manager<Kinds>({ kinds: KINDS, config, clients, metrics, logger: log });
    const caches = cachesOf(manager);
    for (const c of buildControllers({
      config,
      clients,
      caches,
      metrics,
      log,
      events,
      audit,
      clock: systemClock,
    })) {
      manager.addController(c);
    }

    let webhookUrl: string | undefined;
    if (config.webhook.enabled) {
      // The webhook answers on standbys too: names are deterministic, so replicas never double.
      webhook = buildWebhookServer({
        clients,
        runbooks: () => {
          // Before the caches sync every alert would look unmatched and be answered 2xx (dropped).
          if (!manager.readiness().ok) {
            throw new RemediatorError(ERROR_CODES.kubeUnavailable, 'Runbook cache not synced yet');
          }
          return caches.runbooks.list();
        },
        // Resolved alerts find their Remediations here first (ADR 0021); the API server when not.
        remediations: (namespace) => (manager.readiness().ok ? caches.remediations.list(namespace) : []),
        store,
        metrics,
        log,
        events,
        clock: systemClock,
        config: withWebhookCredentials(config.webhook, log),
        ...(config.approvals.enabled
          ? {
              approvals: {
                clients,
                reviewer: new KubeReviewer(clients),
                clock: systemClock,
                log: log.child({ component: 'approvals' }),
                fourEyes: config.approvals.fourEyes,
              },
            }
          : {}),
      });
      await listenOrExplain(
        () => webhook!.app.listen({ host: config.webhook.host, port: config.webhook.port }),
        { what: 'webhook', host: config.webhook.host, port: config.webhook.port, setting: 'webhook.port' },
      );
      const addr = webhook.app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.webhook.port;
      const host = config.webhook.host === '0.0.0.0' ? '127.0.0.1' : config.webhook.host;
      webhookUrl = `${webhook.tls ? 'https' : 'http'}://${host}:${port}${config.webhook.path}`;
      log.info('webhook listening', { url: webhookUrl });
      // Stop taking alerts first; the drain of the reconciles runs alongside.
      const app = webhook.app;
      manager.onShutdown(() => app.close());
    }

    await manager.start();
    log.info('operator started', { probes: manager.probeUrl(), webhook: webhookUrl });
    const done = manager.finished().then(async (exit) => {
      await closeSinks();
      log.info('operator stopped', { reason: exit.reason, exitCode: exit.exitCode, drained: exit.drained });
      return exit.exitCode;
    });
    return {
      manager,
      ...(webhookUrl ? { webhookUrl } : {}),
      done,
      stop: async () => {
        await manager.stop('signal');
        await done;
      },
    };
  } catch (err) {
    // A failed start must not leave Redis reconnects or a listening socket keeping us alive.
    await webhook?.app.close().catch(() => undefined);
    await closeSinks();
    throw err;
  }
}

/** The API server reached and checked, the CRDs present (installed first when asked). */
async function connect(
  config: Readonly<Config>,
  opts: OperatorOptions,
): Promise<{ clients: ReturnType<typeof makeClients>; clusterName: string }> {
  const { log } = opts;
  const { kc, target } = loadKubeTarget(config.kubeconfig);
  const clients = makeClients(kc);
  const clusterName = config.clusterName || contextClusterName(kc) || '';
  log.info('starting', {
    kubeconfig: target.source,
    context: target.context,
    server: target.server,
    cluster: clusterName || null,
    namespace: config.watchNamespace || '(all)',
    store: config.store.kind,
    leaderElection: config.leaderElection.enabled,
  });
  // Before any step can run (src/security/outbound.ts).
  setOutboundAllowList(config.outbound.allow);
  if (config.outbound.allow.length > 0) log.info('outbound allow-list on', { allow: config.outbound.allow });
  if (config.identity.mode === 'operator') {
    // Single-tenant: every Runbook author gets the operator's rights (ADR 0023).
    log.warn("identity mode operator: Runbooks act with the operator's own rights", {
      hint: 'fine when only cluster admins write Runbooks; for teams, set identity.mode=serviceAccount (KR_IDENTITY_MODE) so each Runbook acts as a ServiceAccount of its namespace',
    });
  } else {
    log.info('identity mode serviceAccount', {
      defaultServiceAccount: config.identity.defaultServiceAccount,
    });
  }
  await checkApiServer(clients, target, {
    watchNamespace: config.watchNamespace,
    ...(config.leaderElection.enabled ? { leaseNamespace: leaseNamespace(config, kc) } : {}),
    installCrds: opts.installCrds ?? false,
  });
  if (opts.installCrds) await installCrds(kc, target, log);
  await requireCrds(clients, target, config.watchNamespace);
  return { clients, clusterName };
}

/**
 * With authentication on and no credential configured (a first `npm start`), generate a bearer
 * token into a private file and say where, rather than refusing to start or accepting anyone.
 */
function withWebhookCredentials(webhook: Readonly<Config['webhook']>, log: Logger): Config['webhook'] {
  const a = webhook.auth;
  if (
    a.disabled ||
    a.bearerToken ||
    a.bearerTokenFile ||
    (a.basicUsername && (a.basicPassword || a.basicPasswordFile))
  ) {
    return webhook;
  }
  const dir = join(tmpdir(), `kube-remediator-${process.getuid?.() ?? 'user'}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'webhook-token');
  writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  log.warn('webhook token generated', {
    file,
    hint: 'no credential configured: Alertmanager must send this bearer token (set KR_WEBHOOK_BEARER_TOKEN_FILE to choose your own)',
  });
  return { ...webhook, auth: { ...a, bearerTokenFile: file } };
}

export type { KubeClients };
