/**
 * The audit table shared by several clusters, on the shared PostgreSQL (a schema per test):
 * the migration from 0.1.0's table keeps its rows, operators that start at once all migrate
 * safely, a table dropped under a running operator comes back, and `audit --summary` adds up
 * runs, success, time to finish and reverts per cluster and runbook.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { PostgresAudit } from '../../../src/audit/postgres.js';
import type { AuditEventType, AuditRow } from '../../../src/audit/types.js';
import { runAuditCommand } from '../../../src/cli/audit.js';
import { finishResult } from '../../../src/controller/remediation/finish-result.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { capturingLogger } from '../../unit/stores/helpers.js';

const SHARED_URL = process.env.KR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schemas: string[] = [];

function aSchema(): string {
  const s = `kr_fleet_${randomUUID().replace(/-/g, '')}`;
  schemas.push(s);
  return s;
}

async function sql<T extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client(SHARED_URL);
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

function audit(schema: string, cluster?: string, logger = silentLogger()): PostgresAudit {
  return new PostgresAudit({
    url: SHARED_URL,
    schema,
    logger,
    outboxLimit: 1000,
    flushIntervalMs: 100,
    ...(cluster ? { cluster } : {}),
  });
}

async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runAuditCommand(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (out += s) },
    env: { KR_AUDIT_POSTGRES_URL: SHARED_URL },
  });
  return { code, out };
}

afterAll(async () => {
  for (const s of schemas) await sql(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
});

/** Every (event, phase, step) an 0.1.0 operator wrote, as finishResult sees it. */
const OLD_ROWS: { event: AuditEventType; phase: string | null; step: string | null }[] = [
  { event: 'created', phase: 'Pending', step: null },
  { event: 'step_started', phase: 'Running', step: 'restart' },
  { event: 'step_finished', phase: 'Failed', step: 'restart' },
  { event: 'finished', phase: 'Succeeded', step: null },
  { event: 'finished', phase: 'Failed', step: null },
  { event: 'finished', phase: 'Skipped', step: null },
  { event: 'finished', phase: 'DryRun', step: null },
  { event: 'rejected', phase: 'Skipped', step: null },
  { event: 'blocked', phase: 'Blocked', step: null },
  { event: 'blocked', phase: 'Pending', step: null },
  { event: 'reverted', phase: 'Reverted', step: null },
  { event: 'reverted', phase: 'Reverted', step: 'degrade' },
  { event: 'reverted', phase: 'Failed', step: 'degrade' },
  { event: 'approved', phase: 'Pending', step: null },
];

describe('the audit table of many clusters', () => {
  it('migrates 0.1.0’s table in place: every row kept, results derived as finishResult does', async () => {
    const schema = aSchema();
    // 0.1.0's DDL, as that release ran it.
    await sql(`CREATE SCHEMA "${schema}"`);
    await sql(`CREATE TABLE "${schema}".kube_remediator_audit (
      id bigserial PRIMARY KEY, row_key uuid NOT NULL UNIQUE, at timestamptz NOT NULL, event text NOT NULL,
      namespace text NOT NULL, remediation text NOT NULL, uid text, runbook text, target text, alertname text,
      step text, phase text, message text, details jsonb)`);
    await sql(`CREATE INDEX kube_remediator_audit_at ON "${schema}".kube_remediator_audit (at)`);
    for (const [i, r] of OLD_ROWS.entries())
      await sql(
        `INSERT INTO "${schema}".kube_remediator_audit (row_key, at, event, namespace, remediation, uid, runbook, step, phase, message)
         VALUES ($1, now() - interval '1 hour' + $2 * interval '1 second', $3, 'shop', 'web-1', 'uid-old', 'restart-web', $4, $5, $6)`,
        [randomUUID(), i, r.event, r.step, r.phase, `old ${i}`],
      );

    const log = capturingLogger();
    const sink = await audit(schema, 'east', log.logger).start();
    sink.record({
      at: new Date(),
      event: 'created',
      namespace: 'shop',
      remediation: 'web-2',
      uid: 'uid-new',
    });
    await sink.flush();
    await sink.close();
    expect(log.entries).toContainEqual(
      expect.objectContaining({ message: 'audit schema migrated', from: 0, to: 2 }),
    );

    const rows = await sql<{ message: string; cluster: string | null; result: string | null; event: string }>(
      `SELECT message, cluster, result, event FROM "${schema}".kube_remediator_audit ORDER BY id`,
    );
    expect(rows).toHaveLength(OLD_ROWS.length + 1);
    OLD_ROWS.forEach((r, i) => {
      const expected =
        finishResult({
          kind: 'audit',
          event: r.event,
          message: '',
          ...(r.phase ? { phase: r.phase } : {}),
          ...(r.step ? { step: r.step } : {}),
        }) ?? null;
      expect([rows[i]!.message, rows[i]!.cluster, rows[i]!.result]).toEqual([`old ${i}`, null, expected]);
    });
    expect(rows.at(-1)).toMatchObject({ event: 'created', cluster: 'east', result: null });
    expect(await sql(`SELECT component, version FROM "${schema}".kube_remediator_schema_versions`)).toEqual([
      { component: 'kube_remediator_audit', version: 2 },
    ]);

    // The next start finds the schema current and changes nothing.
    const again = capturingLogger();
    await (await audit(schema, 'east', again.logger).start()).close();
    expect(again.messages()).not.toContain('audit schema migrated');
  });

  it('operators of several clusters that start at once all migrate, and each stamps its rows', async () => {
    const schema = aSchema();
    const sinks = await Promise.all(
      ['east', 'west', 'east', 'west', undefined].map((c) => audit(schema, c).start()),
    );
    sinks.forEach((s, i) =>
      s.record({
        at: new Date(),
        event: 'created',
        namespace: 'shop',
        remediation: `web-${i}`,
        uid: `u${i}`,
      }),
    );
    await Promise.all(sinks.map((s) => s.flush()));
    expect(sinks.map((s) => s.pending)).toEqual([0, 0, 0, 0, 0]);
    await Promise.all(sinks.map((s) => s.close()));
    const rows = await sql<{ cluster: string | null; n: number }>(
      `SELECT cluster, count(*)::int AS n FROM "${schema}".kube_remediator_audit GROUP BY cluster ORDER BY cluster NULLS FIRST`,
    );
    expect(rows).toEqual([
      { cluster: null, n: 1 },
      { cluster: 'east', n: 2 },
      { cluster: 'west', n: 2 },
    ]);
  });

  it('makes the table again when it is dropped under a running operator', async () => {
    const schema = aSchema();
    const sink = await audit(schema, 'east').start();
    sink.record({ at: new Date(), event: 'created', namespace: 'shop', remediation: 'a', uid: 'ua' });
    await sink.flush();
    await sql(`DROP TABLE "${schema}".kube_remediator_audit`);
    sink.record({ at: new Date(), event: 'created', namespace: 'shop', remediation: 'b', uid: 'ub' });
    await sink.flush();
    expect(sink.pending).toBe(0);
    await sink.close();
    expect(await sql(`SELECT remediation, cluster FROM "${schema}".kube_remediator_audit`)).toEqual([
      { remediation: 'b', cluster: 'east' },
    ]);
  });

  it('audit --summary: runs, success, median time to finish and reverts per cluster and runbook; --cluster picks one', async () => {
    const schema = aSchema();
    const t0 = Date.now() - 3_600_000;
    const at = (s: number): Date => new Date(t0 + s * 1000);
    // One Remediation: created at `start`, then its ends.
    const run = (
      uid: string,
      runbook: string,
      start: number,
      ends: [number, AuditRow['result']][],
    ): AuditRow[] => [
      { at: at(start), event: 'created', namespace: 'shop', remediation: uid, uid, runbook },
      ...ends.map(([s, result]): AuditRow => ({
        at: at(s),
        event: result === 'reverted' || result === 'revert_failed' ? 'reverted' : 'finished',
        namespace: 'shop',
        remediation: uid,
        uid,
        runbook,
        ...(result ? { result } : {}),
      })),
    ];
    const east = await audit(schema, 'east').start();
    for (const r of [
      ...run('e1', 'restart-web', 0, [
        [10, 'succeeded'],
        [100, 'reverted'],
      ]),
      ...run('e2', 'restart-web', 0, [[30, 'succeeded']]),
      ...run('e3', 'restart-web', 0, [
        [20, 'failed'],
        [50, 'revert_failed'],
      ]),
      ...run('e4', 'restart-web', 0, [[5, 'skipped']]),
      ...run('e5', 'scale-up', 0, [[90, 'blocked']]),
    ])
      east.record(r);
    const west = await audit(schema, 'west').start();
    for (const r of run('w1', 'restart-web', 0, [[4, 'succeeded']])) west.record(r);
    await Promise.all([east.flush(), west.flush()]);
    await Promise.all([east.close(), west.close()]);

    const all = await cli(['--summary', '--since', '2h', '--schema', schema]);
    expect(all.code).toBe(0);
    const lines = all.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^CLUSTER\s+RUNBOOK\s+RUNS\s+SUCCESS\s+MEDIAN TO FINISH\s+REVERTS\s+REVERT FAILURES$/,
    );
    expect(lines.slice(1).map((l) => l.split(/\s{3,}/))).toEqual([
      // 3 runs (the skipped one is not a run), 2 succeeded; median of 10, 20, 30 s.
      ['east', 'restart-web', '3', '67%', '20s', '1', '1'],
      ['east', 'scale-up', '1', '0%', '1m30s', '0', '0'],
      ['west', 'restart-web', '1', '100%', '4s', '0', '0'],
    ]);

    const one = await cli([
      '--summary',
      '--cluster',
      'west',
      '--since',
      '2h',
      '--schema',
      schema,
      '-o',
      'json',
    ]);
    expect(JSON.parse(one.out)).toEqual([
      {
        cluster: 'west',
        runbook: 'restart-web',
        runs: 1,
        succeeded: 1,
        failed: 0,
        blocked: 0,
        skipped: 0,
        dryRuns: 0,
        successRatio: 1,
        medianSecondsToFinish: 4,
        reverted: 0,
        revertFailed: 0,
      },
    ]);
    const rows = await cli(['--cluster', 'west', '--since', '2h', '--schema', schema]);
    expect(
      rows.out
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['west', 'west']);
  });
});
