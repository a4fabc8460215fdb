/**
 * The audit outbox against the shared PostgreSQL (a schema per run) and against a private
 * PostgreSQL that the test stops and starts; the CLI reads back what was written.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { createAudit } from '../../../src/audit/index.js';
import { PostgresAudit } from '../../../src/audit/postgres.js';
import { queryAudit } from '../../../src/audit/query.js';
import { noopAudit, type AuditEventType, type AuditRow } from '../../../src/audit/types.js';
import { runAuditCommand } from '../../../src/cli/audit.js';
import { loadConfig } from '../../../src/config/config.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { startPostgres, type TestPostgres } from '../../support/services.js';
import { capturingLogger, metricValue } from '../../unit/stores/helpers.js';

const SHARED_URL = process.env.KR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `kr_audit_${randomUUID().replace(/-/g, '')}`;

function aRow(seq: number, o: Partial<AuditRow> = {}): AuditRow {
  const events: AuditEventType[] = ['created', 'step_started', 'step_finished', 'finished'];
  return {
    at: new Date(Date.now() - 60_000 + seq),
    event: events[seq % events.length]!,
    namespace: 'shop',
    remediation: `web-${Math.floor(seq / 4)}`,
    uid: `uid-${Math.floor(seq / 4)}`,
    runbook: 'restart-web',
    target: 'Deployment/web',
    alertname: 'WebDown',
    step: seq % 4 === 0 ? undefined : 'restart',
    phase: 'Running',
    message: `row ${seq}`,
    details: { seq },
    ...o,
  };
}

async function readAll(url: string, inSchema = 'public'): Promise<AuditRow[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return await queryAudit(client, { since: new Date(0), limit: 100_000, schema: inSchema });
  } finally {
    await client.end();
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const seqs = (rows: AuditRow[]) => rows.map((r) => (r.details as { seq: number }).seq);

describe('PostgresAudit (shared PostgreSQL)', () => {
  let audit: PostgresAudit;
  const metrics = createMetrics({ defaultMetrics: false });

  beforeAll(async () => {
    audit = await new PostgresAudit({
      url: SHARED_URL,
      schema,
      logger: silentLogger(),
      metrics,
      outboxLimit: 1000,
      flushIntervalMs: 100,
    }).start();
  });

  afterAll(async () => {
    await audit.close();
    const client = new pg.Client(SHARED_URL);
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });

  it('writes every row, in order, with all its fields', async () => {
    for (let i = 0; i < 1200; i++) {
      // More than one batch, and more than the outbox bound, flushed as they come.
      if (audit.pending >= 900) await audit.flush();
      audit.record(aRow(i, i === 7 ? { runbook: 'other-runbook', namespace: 'pay' } : {}));
    }
    await audit.flush();
    expect(audit.pending).toBe(0);
    const rows = await readAll(SHARED_URL, schema);
    expect(seqs(rows)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
    expect(rows[1]).toMatchObject({
      event: 'step_started',
      namespace: 'shop',
      remediation: 'web-0',
      uid: 'uid-0',
      runbook: 'restart-web',
      target: 'Deployment/web',
      alertname: 'WebDown',
      step: 'restart',
      phase: 'Running',
      message: 'row 1',
      details: { seq: 1 },
    });
    expect(rows[0]!.step).toBeUndefined();
    expect(await metricValue(metrics, 'kube_remediator_audit_rows_written_total')).toBe(1200);
    expect(await metricValue(metrics, 'kube_remediator_audit_outbox_depth')).toBe(0);
    expect(await metricValue(metrics, 'kube_remediator_audit_rows_dropped_total')).toBe(0);
  });

  it('kube-remediator audit prints the history as a table and as JSON, filtered', async () => {
    let out = '';
    const io = { stdout: { write: (s: string) => (out += s) }, env: { KR_AUDIT_POSTGRES_URL: SHARED_URL } };
    expect(
      await runAuditCommand(
        ['--since', '24h', '--runbook', 'restart-web', '--schema', schema, '--limit', '3'],
        io,
      ),
    ).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CLUSTER\s+TIME\s+EVENT\s+REMEDIATION\s+RUNBOOK\s+STEP\s+PHASE\s+MESSAGE$/);
    // The newest three of the range, oldest first.
    expect(lines.slice(1).map((l) => l.split(/\s+/).pop())).toEqual(['1197', '1198', '1199']);
    expect(lines[1]).toContain('shop/web-299');

    out = '';
    expect(
      await runAuditCommand(
        ['--runbook', 'other-runbook', '--namespace', 'pay', '--schema', schema, '-o', 'json'],
        io,
      ),
    ).toBe(0);
    const parsed = JSON.parse(out) as { message: string; namespace: string }[];
    expect(parsed).toEqual([expect.objectContaining({ message: 'row 7', namespace: 'pay' })]);

    out = '';
    expect(await runAuditCommand(['--since', '1ms', '--schema', schema], io)).toBe(0);
    expect(out).toBe('No audit rows found.\n');
  });

  it('kube-remediator audit says when the table does not exist', async () => {
    let err = '';
    const io = { stdout: { write: () => true }, stderr: { write: (s: string) => (err += s) }, env: {} };
    expect(await runAuditCommand(['--postgres-url', SHARED_URL, '--schema', `${schema}_none`], io)).toBe(1);
    expect(err).toContain('no audit table');
  });
});

describe('createAudit', () => {
  it('turns audit off, and says so, without a PostgreSQL URL', async () => {
    const log = capturingLogger();
    const sink = await createAudit(loadConfig({ env: {} }), { logger: log.logger });
    expect(sink).toBe(noopAudit);
    expect(log.messages()).toContain('audit log disabled');
  });

  it('builds a PostgreSQL audit from the config', async () => {
    const sink = await createAudit(loadConfig({ env: { KR_AUDIT_POSTGRES_URL: SHARED_URL } }), {
      logger: silentLogger(),
    });
    expect(sink).toBeInstanceOf(PostgresAudit);
    await sink.close();
  });
});

describe('PostgresAudit over a PostgreSQL that goes away', () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('holds rows while PostgreSQL is down and writes them all, in order, when it is back', async () => {
    const log = capturingLogger();
    const metrics = createMetrics({ defaultMetrics: false });
    const audit = await new PostgresAudit({
      url: server.url,
      logger: log.logger,
      metrics,
      outboxLimit: 10_000,
      flushIntervalMs: 100,
      timeoutMs: 1000,
    }).start();
    try {
      for (let i = 0; i < 10; i++) audit.record(aRow(i));
      await until('first rows written', () => audit.pending === 0);

      await server.stop();
      for (let i = 10; i < 700; i++) {
        audit.record(aRow(i));
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      await until('the outage noticed', () => log.messages().includes('audit log unreachable, holding rows'));
      await new Promise((r) => setTimeout(r, 300));
      expect(audit.pending).toBe(690);
      expect(await metricValue(metrics, 'kube_remediator_audit_outbox_depth')).toBe(690);

      await server.start();
      await until('outbox drained', () => audit.pending === 0);
      expect(log.messages()).toContain('audit log reachable again');
      const rows = await readAll(server.url);
      expect(seqs(rows)).toEqual(Array.from({ length: 700 }, (_, i) => i));
      expect(await metricValue(metrics, 'kube_remediator_audit_rows_written_total')).toBe(700);
      expect(await metricValue(metrics, 'kube_remediator_audit_rows_dropped_total')).toBe(0);
    } finally {
      await audit.close(1000);
    }
  });

  it('drops the newest rows beyond the outbox bound, counts and logs them, and keeps the oldest', async () => {
    const log = capturingLogger();
    const metrics = createMetrics({ defaultMetrics: false });
    const table = `kr_bound_${randomUUID().replace(/-/g, '')}`;
    const audit = await new PostgresAudit({
      url: server.url,
      schema: table,
      logger: log.logger,
      metrics,
      outboxLimit: 5,
      flushIntervalMs: 100,
      timeoutMs: 1000,
    }).start();
    try {
      await server.stop();
      for (let i = 0; i < 8; i++) audit.record(aRow(i));
      expect(audit.pending).toBe(5);
      expect(await metricValue(metrics, 'kube_remediator_audit_rows_dropped_total')).toBe(3);
      const dropped = log.entries.filter((e) => e.message === 'audit rows dropped');
      expect(dropped[0]).toMatchObject({ level: 'error', outboxLimit: 5 });

      await server.start();
      await until('outbox drained', () => audit.pending === 0);
      expect(seqs(await readAll(server.url, table))).toEqual([0, 1, 2, 3, 4]);
    } finally {
      await audit.close(1000);
    }
  });

  it('close() gives up at its deadline while PostgreSQL is down, counting what it could not write', async () => {
    const log = capturingLogger();
    const metrics = createMetrics({ defaultMetrics: false });
    const audit = await new PostgresAudit({
      url: server.url,
      logger: log.logger,
      metrics,
      outboxLimit: 100,
      flushIntervalMs: 100,
      timeoutMs: 500,
    }).start();
    await server.stop();
    try {
      for (let i = 0; i < 4; i++) audit.record(aRow(i));
      const started = Date.now();
      await audit.close(700);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await metricValue(metrics, 'kube_remediator_audit_rows_dropped_total')).toBe(4);
      expect(log.entries.find((e) => e.message === 'audit rows dropped')).toMatchObject({
        reason: 'shutdown',
        dropped: 4,
      });
    } finally {
      await server.start();
    }
  });
});
