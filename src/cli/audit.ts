/**
 * `kube-remediator audit`: prints the audit history from PostgreSQL, oldest first.
 * Returns the exit code instead of exiting, so the CLI entry and tests can both call it.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  queryAudit,
  summarizeAudit,
  type AuditQuery,
  type AuditRecord,
  type AuditSummary,
} from '../audit/query.js';
import { parseDuration } from '../util/duration.js';
import { errorMessage } from '../util/errors.js';

export const AUDIT_USAGE = `Usage: kube-remediator audit [options]

Prints the audit log (Remediation transitions), oldest first, of every cluster that writes to
the database; or, with --summary, per cluster and runbook: runs, success ratio, median time
to finish and reverts.

Options:
  --since <dur|time>      how far back: a duration (24h, 30m) or an RFC 3339 time (default 24h)
  --cluster <name>        only this cluster (its operator's clusterName)
  --summary               one line per cluster and runbook instead of the rows
  --runbook <name>        only this Runbook
  --namespace <ns>        only Remediations in this namespace
  --remediation <name>    only this Remediation
  --limit <n>             at most the newest n rows of the range (default 500)
  --output table|json     output format (default table)
  --postgres-url <url>    audit database (default $KR_AUDIT_POSTGRES_URL)
  --schema <name>         schema of the audit table (default public)
  -h, --help              show this help
`;

interface Writer {
  write(chunk: string): unknown;
}

export interface AuditCommandIO {
  stdout: Writer;
  stderr?: Writer;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
}

/** Exit codes: 0 printed, 1 the database could not be read, 2 bad usage. */
export async function runAuditCommand(argv: string[], io: AuditCommandIO): Promise<number> {
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  let opts: ParsedOptions | 'help';
  try {
    opts = parseOptions(argv, env, io.now?.() ?? new Date());
  } catch (err) {
    stderr.write(`kube-remediator audit: ${errorMessage(err)}\n\n${AUDIT_USAGE}`);
    return 2;
  }
  if (opts === 'help') {
    io.stdout.write(AUDIT_USAGE);
    return 0;
  }

  // Without a timeout a wrong host makes the command hang instead of saying what is wrong.
  const client = new pg.Client({
    connectionString: opts.url,
    connectionTimeoutMillis: 10_000,
    query_timeout: 30_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const found = opts.summary
      ? await summarizeAudit(client, opts.query)
      : await queryAudit(client, opts.query);
    if (opts.output === 'json') io.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
    else
      io.stdout.write(
        opts.summary ? formatSummary(found as AuditSummary[]) : formatTable(found as AuditRecord[]),
      );
    return 0;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const hint =
      code === '42P01'
        ? 'there is no audit table in that database and schema; has the operator run with audit.postgresUrl set?'
        : 'check --postgres-url (or KR_AUDIT_POSTGRES_URL) and that PostgreSQL is reachable';
    stderr.write(`kube-remediator audit: cannot read the audit log: ${errorMessage(err)}\n${hint}\n`);
    return 1;
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface ParsedOptions {
  url: string;
  output: 'table' | 'json';
  summary: boolean;
  query: AuditQuery;
}

function parseOptions(argv: string[], env: NodeJS.ProcessEnv, now: Date): ParsedOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      since: { type: 'string', default: '24h' },
      cluster: { type: 'string' },
      summary: { type: 'boolean', default: false },
      runbook: { type: 'string' },
      namespace: { type: 'string' },
      remediation: { type: 'string' },
      limit: { type: 'string', default: '500' },
      output: { type: 'string', short: 'o', default: 'table' },
      'postgres-url': { type: 'string' },
      schema: { type: 'string', default: 'public' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help' as const;
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw new Error(`--limit must be a positive integer, got "${values.limit}"`);
  if (values.output !== 'table' && values.output !== 'json')
    throw new Error(`--output must be table or json, got "${values.output}"`);
  const url = values['postgres-url'] ?? env.KR_AUDIT_POSTGRES_URL ?? '';
  if (!url) throw new Error('no audit database: pass --postgres-url or set KR_AUDIT_POSTGRES_URL');
  if (values.cluster === '') throw new Error('--cluster needs a name (leave it out for every cluster)');
  return {
    url,
    output: values.output,
    summary: values.summary,
    query: {
      since: parseSince(values.since, now),
      cluster: values.cluster,
      runbook: values.runbook,
      namespace: values.namespace,
      remediation: values.remediation,
      limit,
      schema: values.schema,
    },
  };
}

function parseSince(text: string, now: Date): Date {
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const t = new Date(text);
    if (Number.isNaN(t.getTime())) throw new Error(`--since: "${text}" is not an RFC 3339 time`);
    return t;
  }
  try {
    return new Date(now.getTime() - parseDuration(text));
  } catch (err) {
    throw new Error(`--since: ${errorMessage(err)}`, { cause: err });
  }
}

const HEADERS = ['CLUSTER', 'TIME', 'EVENT', 'REMEDIATION', 'RUNBOOK', 'STEP', 'PHASE', 'MESSAGE'] as const;

/** kubectl-style columns: left-aligned, three spaces apart, the message last and unpadded. */
export function formatTable(rows: AuditRecord[]): string {
  if (rows.length === 0) return 'No audit rows found.\n';
  const cells = rows.map((r) => [
    r.cluster ?? '-',
    r.at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    r.event,
    `${r.namespace}/${r.remediation}`,
    r.runbook ?? '-',
    r.step ?? '-',
    r.phase ?? '-',
    (r.message ?? '').replace(/\s*\n\s*/g, ' '),
  ]);
  return columns(HEADERS, cells);
}

const SUMMARY_HEADERS = [
  'CLUSTER',
  'RUNBOOK',
  'RUNS',
  'SUCCESS',
  'MEDIAN TO FINISH',
  'REVERTS',
  'REVERT FAILURES',
] as const;

/** One line per cluster and runbook; `-` where there is no cluster, runbook, run or duration. */
export function formatSummary(lines: AuditSummary[]): string {
  if (lines.length === 0) return 'No remediation ended in this range.\n';
  const cells = lines.map((l) => [
    l.cluster ?? '-',
    l.runbook ?? '-',
    String(l.runs),
    l.successRatio === undefined ? '-' : `${Math.round(l.successRatio * 100)}%`,
    l.medianSecondsToFinish === undefined ? '-' : formatSeconds(l.medianSecondsToFinish),
    String(l.reverted),
    String(l.revertFailed),
  ]);
  return columns(SUMMARY_HEADERS, cells);
}

/** `4.2s`, `3m4s`, `2h5m`: as precise as a person reading a summary needs. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds * 10) / 10}s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function columns(headers: readonly string[], cells: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]): string =>
    c
      .map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return `${[line(headers), ...cells.map(line)].join('\n')}\n`;
}
