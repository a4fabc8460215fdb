import { describe, expect, it } from '@jest/globals';
import { formatSeconds, formatSummary, formatTable, runAuditCommand } from '../../../src/cli/audit.js';

function io(env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env },
    out: () => out,
    err: () => err,
  };
}

describe('kube-remediator audit', () => {
  it('prints help', async () => {
    const t = io();
    expect(await runAuditCommand(['--help'], t.io)).toBe(0);
    expect(t.out()).toContain('--since');
  });

  it.each([
    [['--since', 'yesterday'], '--since'],
    [['--limit', '0'], '--limit'],
    [['--output', 'yaml'], '--output'],
    [['--bogus'], 'bogus'],
  ])('refuses %j with exit 2, naming the option', async (argv, named) => {
    const t = io({ KR_AUDIT_POSTGRES_URL: 'postgres://x@127.0.0.1:1/x' });
    expect(await runAuditCommand(argv, t.io)).toBe(2);
    expect(t.err()).toContain(named);
  });

  it('says where the database URL comes from when there is none', async () => {
    const t = io();
    expect(await runAuditCommand([], t.io)).toBe(2);
    expect(t.err()).toContain('KR_AUDIT_POSTGRES_URL');
  });

  it('exits 1 with a hint when the database cannot be reached', async () => {
    const t = io();
    expect(await runAuditCommand(['--postgres-url', 'postgres://x@127.0.0.1:1/x'], t.io)).toBe(1);
    expect(t.err()).toContain('cannot read the audit log');
  });

  it('lays out columns and flattens multi-line messages', () => {
    const text = formatTable([
      {
        id: '1',
        cluster: 'east',
        at: new Date('2026-01-01T10:00:00.123Z'),
        event: 'created',
        namespace: 'shop',
        remediation: 'web-1',
        runbook: 'restart-web',
        message: 'two\nlines',
      },
      {
        id: '2',
        at: new Date('2026-01-01T10:00:01Z'),
        event: 'step_started',
        namespace: 'shop',
        remediation: 'web-1',
        step: 'restart',
        phase: 'Running',
      },
    ]);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CLUSTER\s+TIME\s+EVENT\s+REMEDIATION\s+RUNBOOK\s+STEP\s+PHASE\s+MESSAGE$/);
    expect(lines[1]).toMatch(
      /^east\s+2026-01-01T10:00:00Z\s+created\s+shop\/web-1\s+restart-web\s+-\s+-\s+two lines$/,
    );
    // A row written before clusters were recorded.
    expect(lines[2]).toMatch(/^-\s+2026-01-01T10:00:01Z/);
    expect(lines[2]!.indexOf('step_started')).toBe(lines[1]!.indexOf('created'));
    expect(formatTable([])).toBe('No audit rows found.\n');
  });

  it('summarises per cluster and runbook, with - where a value is missing', () => {
    const text = formatSummary([
      {
        cluster: 'east',
        runbook: 'restart-web',
        runs: 3,
        succeeded: 2,
        failed: 1,
        blocked: 0,
        skipped: 0,
        dryRuns: 0,
        successRatio: 2 / 3,
        medianSecondsToFinish: 64.4,
        reverted: 1,
        revertFailed: 0,
      },
      { runs: 0, succeeded: 0, failed: 0, blocked: 0, skipped: 1, dryRuns: 0, reverted: 0, revertFailed: 0 },
    ]);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^CLUSTER\s+RUNBOOK\s+RUNS\s+SUCCESS\s+MEDIAN TO FINISH\s+REVERTS\s+REVERT FAILURES$/,
    );
    expect(lines[1]).toMatch(/^east\s+restart-web\s+3\s+67%\s+1m4s\s+1\s+0$/);
    expect(lines[2]).toMatch(/^-\s+-\s+0\s+-\s+-\s+0\s+0$/);
    expect(formatSummary([])).toBe('No remediation ended in this range.\n');
  });

  it.each([
    [4.24, '4.2s'],
    [59.96, '60s'],
    [64.4, '1m4s'],
    [3599.6, '1h0m'],
    [7500, '2h5m'],
  ])('formats %d seconds as %s', (seconds, text) => {
    expect(formatSeconds(seconds)).toBe(text);
  });

  it('refuses an empty --cluster', async () => {
    const t = io({ KR_AUDIT_POSTGRES_URL: 'postgres://x@127.0.0.1:1/x' });
    expect(await runAuditCommand(['--cluster', ''], t.io)).toBe(2);
    expect(t.err()).toContain('--cluster');
  });
});
