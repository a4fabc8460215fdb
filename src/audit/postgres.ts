/**
 * The audit log in PostgreSQL, written through an in-memory outbox: `record()` only appends,
 * and a single flusher writes the head of the outbox in order. While PostgreSQL is down rows
 * stay in the outbox and the flusher retries every flushInterval.
 *
 * When the outbox is full the NEWEST row is dropped, not the oldest:
 * - old rows often describe Remediations that are gone from the cluster by now, so the audit
 *   log is the only place left that holds them; recent transitions are still visible in the
 *   live Remediation's status, conditions and Events;
 * - the written log stays a gap-free prefix of what happened, with one gap at its end whose
 *   size is counted and logged, instead of a hole in the middle;
 * - the flusher only ever removes from the head, so a drop never races a batch in flight.
 *
 * Every row carries a key made at record time and the insert skips keys already present, so
 * a batch whose COMMIT landed but whose answer was lost is not written twice on retry.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { withTimeout } from '../stores/backend.js';
import { createPgPool, isMissingRelation, migrateVersions, qualified } from '../db/pg.js';
import { AUDIT_TABLE, auditMigrations } from './schema.js';

export { AUDIT_TABLE };
import { systemClock, type Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import type { AuditRow, AuditSink } from './types.js';

/** 15 parameters a row: 500 rows stay far below PostgreSQL's 65535 parameters a statement. */
const BATCH_SIZE = 500;
/** Drops are logged at most this often, with the count since the last line, to stay loud without flooding. */
const DROP_LOG_INTERVAL_MS = 10_000;
const DEFAULT_CLOSE_DEADLINE_MS = 5_000;

const COLUMNS = [
  'row_key',
  'cluster',
  'at',
  'event',
  'namespace',
  'remediation',
  'uid',
  'runbook',
  'target',
  'alertname',
  'step',
  'phase',
  'message',
  'result',
  'details',
] as const;

interface OutboxRow {
  key: string;
  row: AuditRow;
}

export interface PostgresAuditOptions {
  url: string;
  /** Stored on every row, so that several clusters can share the table; undefined: NULL. */
  cluster?: string;
  logger: Logger;
  metrics?: Pick<Metrics, 'auditWritten' | 'auditDropped' | 'auditOutboxDepth'>;
  outboxLimit: number;
  flushIntervalMs: number;
  /** Schema of the table (created if missing); tests use one per run. */
  schema?: string;
  timeoutMs?: number;
  clock?: Clock;
}

export class PostgresAudit implements AuditSink {
  private readonly pool: Pool;
  private readonly table: string;
  private readonly schema: string;
  private readonly outbox: OutboxRow[] = [];
  private readonly clock: Clock;
  private timer: NodeJS.Timeout | undefined;
  private kicked = false;
  private flushing: Promise<void> | undefined;
  private migrated = false;
  private unreachableSince: number | undefined;
  private droppedSinceLog = 0;
  private lastDropLog = 0;
  private closed = false;

  constructor(private readonly opts: PostgresAuditOptions) {
    this.clock = opts.clock ?? systemClock;
    this.schema = opts.schema ?? 'public';
    this.table = qualified(this.schema, AUDIT_TABLE);
    this.pool = createPgPool({
      url: opts.url,
      logger: opts.logger,
      timeoutMs: opts.timeoutMs ?? 2000,
      purpose: 'audit',
      max: 2,
    });
    opts.metrics?.auditOutboxDepth.set(0);
  }

  /** Creates the table if it can and starts the flusher; a database that is down now is retried later. */
  async start(): Promise<this> {
    this.timer = setInterval(() => void this.flush(), this.opts.flushIntervalMs);
    // Audit must not keep a process alive on its own; close() does the final flush.
    this.timer.unref();
    try {
      await this.ensureSchema();
      this.opts.logger.info('audit log enabled', { table: `${this.schema}.${AUDIT_TABLE}` });
    } catch (err) {
      this.markUnreachable(err);
    }
    return this;
  }

  record(row: AuditRow): void {
    if (this.closed) {
      this.drop('closed');
      return;
    }
    if (this.outbox.length >= this.opts.outboxLimit) {
      this.drop('outbox full');
      return;
    }
    this.outbox.push({ key: randomUUID(), row });
    this.opts.metrics?.auditOutboxDepth.set(this.outbox.length);
    // While the database is down the interval timer retries; hammering it per row would not help.
    if (this.unreachableSince === undefined && !this.kicked) {
      this.kicked = true;
      setImmediate(() => {
        this.kicked = false;
        void this.flush();
      });
    }
  }

  /** Rows waiting to be written. */
  get pending(): number {
    return this.outbox.length;
  }

  /** Writes what the outbox holds, in order, until it is empty or the database fails. Never rejects. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** Stops taking rows and writes what it can until the deadline; what is left is logged as lost. */
  async close(deadlineMs = DEFAULT_CLOSE_DEADLINE_MS): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const deadline = Date.now() + deadlineMs;
    while (this.outbox.length > 0 && Date.now() < deadline) {
      await withTimeout(this.flush(), Math.max(1, deadline - Date.now()), 'audit flush').catch(
        () => undefined,
      );
      if (this.outbox.length > 0) await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
    }
    if (this.outbox.length > 0) {
      this.opts.logger.error('audit rows dropped', {
        reason: 'shutdown',
        dropped: this.outbox.length,
        deadlineMs,
      });
      this.opts.metrics?.auditDropped.inc(this.outbox.length);
      this.outbox.length = 0;
      this.opts.metrics?.auditOutboxDepth.set(0);
    }
    // A flush still waiting on a dead server would keep its client; ending the pool frees it.
    await withTimeout(this.pool.end(), 1000, 'audit pool end').catch(() => undefined);
  }

  private async drain(): Promise<void> {
    while (this.outbox.length > 0) {
      const batch = this.outbox.slice(0, BATCH_SIZE);
      try {
        await this.ensureSchema();
        await this.insert(batch);
      } catch (err) {
        if (isMissingRelation(err) && this.migrated) {
          // The table went away under us (database restored or recreated): make it again and retry.
          this.migrated = false;
          continue;
        }
        this.markUnreachable(err);
        return;
      }
      // Only the flusher removes rows, and only from the head: these are exactly the batch.
      this.outbox.splice(0, batch.length);
      this.opts.metrics?.auditWritten.inc(batch.length);
      this.opts.metrics?.auditOutboxDepth.set(this.outbox.length);
      if (this.unreachableSince !== undefined) {
        this.opts.logger.info('audit log reachable again', {
          downMs: this.clock.now().getTime() - this.unreachableSince,
          pending: this.outbox.length,
        });
        this.unreachableSince = undefined;
      }
      // Drops held back by the rate limit are reported once the outbox drains.
      if (this.droppedSinceLog > 0) this.logDrops('outbox full', this.clock.now().getTime());
    }
  }

  /** One statement, so the batch lands whole or not at all, with ids in outbox order. */
  private async insert(batch: OutboxRow[]): Promise<void> {
    const values: unknown[] = [];
    const tuples = batch.map(({ key, row }, i) => {
      values.push(
        key,
        this.opts.cluster ?? null,
        row.at,
        row.event,
        row.namespace,
        row.remediation,
        row.uid ?? null,
        row.runbook ?? null,
        row.target ?? null,
        row.alertname ?? null,
        row.step ?? null,
        row.phase ?? null,
        row.message ?? null,
        row.result ?? null,
        row.details === undefined ? null : JSON.stringify(row.details),
      );
      const base = i * COLUMNS.length;
      return `(${COLUMNS.map((_, c) => `$${base + c + 1}`).join(', ')})`;
    });
    await this.pool.query(
      `INSERT INTO ${this.table} (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (row_key) DO NOTHING`,
      values,
    );
  }

  private async ensureSchema(): Promise<void> {
    if (this.migrated) return;
    const { from, to } = await migrateVersions(this.pool, {
      schema: this.schema,
      component: AUDIT_TABLE,
      table: this.table,
      migrations: auditMigrations(this.schema),
    });
    if (from !== to) this.opts.logger.info('audit schema migrated', { from, to });
    this.migrated = true;
  }

  private markUnreachable(err: unknown): void {
    if (this.unreachableSince !== undefined) return;
    this.unreachableSince = this.clock.now().getTime();
    this.opts.logger.warn('audit log unreachable, holding rows', {
      error: errorMessage(err),
      pending: this.outbox.length,
      outboxLimit: this.opts.outboxLimit,
    });
  }

  private drop(reason: string): void {
    this.opts.metrics?.auditDropped.inc();
    this.droppedSinceLog += 1;
    const now = this.clock.now().getTime();
    if (this.lastDropLog === 0 || now - this.lastDropLog >= DROP_LOG_INTERVAL_MS) this.logDrops(reason, now);
  }

  private logDrops(reason: string, now: number): void {
    this.opts.logger.error('audit rows dropped', {
      reason,
      dropped: this.droppedSinceLog,
      outboxLimit: this.opts.outboxLimit,
    });
    this.droppedSinceLog = 0;
    this.lastDropLog = now;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
