/** Builds the audit sink the configuration asks for: PostgreSQL, or off. */
import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Clock } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import { noopAudit, type AuditSink } from './types.js';

// PostgresAudit and queryAudit are imported from './postgres.js' and './query.js' directly:
// re-exporting them here would load the PostgreSQL driver into every operator, audit on or off.
export { noopAudit, type AuditRow, type AuditSink } from './types.js';

export interface AuditDeps {
  logger: Logger;
  metrics?: Pick<Metrics, 'auditWritten' | 'auditDropped' | 'auditOutboxDepth'>;
  clock?: Clock;
  /** Stored on every row; empty: rows carry no cluster. */
  clusterName?: string;
}

/** Never rejects: a database that is down at start only delays the first writes. */
export async function createAudit(config: Pick<Config, 'audit'>, deps: AuditDeps): Promise<AuditSink> {
  const { audit } = config;
  if (!audit.postgresUrl) {
    deps.logger.info('audit log disabled', {
      reason: 'audit.postgresUrl is empty (env KR_AUDIT_POSTGRES_URL)',
    });
    return noopAudit;
  }
  if (!deps.clusterName) {
    deps.logger.warn('audit rows carry no cluster name', {
      hint: 'set clusterName (env KR_CLUSTER_NAME, chart value clusterName) so that rows of several clusters sharing this database can be told apart',
    });
  }
  const { PostgresAudit } = await import('./postgres.js');
  return new PostgresAudit({
    url: audit.postgresUrl,
    cluster: deps.clusterName || undefined,
    logger: deps.logger,
    metrics: deps.metrics,
    outboxLimit: audit.outboxLimit,
    flushIntervalMs: parseDuration(audit.flushInterval),
    clock: deps.clock,
  }).start();
}
