/**
 * Private Redis, PostgreSQL and Prometheus servers for fault and pipeline tests: each on a free loopback port, in a
 * temp dir, stopped by pid. Tests that kill a server must use one of these, never the shared
 * servers on 6379/5432 that every other test relies on.
 *
 * Every process started here is also SIGKILLed when the test worker exits, so a failing test
 * or a forgotten afterAll does not leave servers behind.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Pid of the running server (changes on restart); undefined while stopped. */
  readonly pid: number | undefined;
  /** Kills the server (SIGKILL by default: a crash, as in an outage) and waits until it is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port (empty: it keeps no data) and waits until it answers. */
  restart(): Promise<void>;
  /** Stops it for good and removes its directory. */
  destroy(): Promise<void>;
}

export interface TestPostgres {
  readonly port: number;
  /** Superuser `postgres`, database `postgres`, trust auth. */
  readonly url: string;
  readonly pid: number | undefined;
  /**
   * Stops the server, SIGQUIT by default (immediate shutdown: connections are cut as in a
   * crash, but the children go too, so the same data dir starts again cleanly).
   */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data dir and waits until it answers queries. */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) {
    try {
      if (p.pid) process.kill(p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** A port nobody listens on right now (the kernel picks it; the tiny race is acceptable in tests). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** A process started here: its child, a promise of its exit, its last 200 output lines. */
export interface Managed {
  child: ChildProcess;
  exited: Promise<void>;
  output: string[];
}

export function launch(
  cmd: string,
  args: string[],
  opts: { uid?: number; gid?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Managed {
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    uid: opts.uid,
    gid: opts.gid,
    cwd: opts.cwd,
    env: opts.env,
  });
  live.add(child);
  const output: string[] = [];
  const keep = (b: Buffer): void => {
    output.push(...b.toString().split('\n').filter(Boolean));
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
    child.once('error', (err) => {
      output.push(`spawn error: ${err.message}`);
      live.delete(child);
      resolve();
    });
  });
  return { child, exited, output };
}

/** Stops it by its pid with `signal`, SIGKILL after 10 s, and waits for the exit. */
export async function kill(m: Managed | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!m || m.child.exitCode !== null || m.child.signalCode !== null) return;
  try {
    process.kill(m.child.pid!, signal);
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(m.child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, STOP_TIMEOUT_MS);
  await m.exited;
  clearTimeout(timer);
}

/** Polls `check` until it holds; fails early when the process exits. */
export async function waitUntil(what: string, m: Managed, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (
      m.child.exitCode !== null ||
      m.child.signalCode !== null ||
      m.output.some((l) => l.startsWith('spawn error'))
    ) {
      throw new Error(`${what} exited before it was ready:\n${m.output.slice(-20).join('\n')}`);
    }
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not ready after ${READY_TIMEOUT_MS} ms:\n${m.output.slice(-20).join('\n')}`);
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let reply = '';
    sock.setTimeout(1000, () => sock.destroy());
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      reply += d.toString();
      if (reply.includes('\r\n')) sock.end();
    });
    sock.on('close', () => resolve(reply.startsWith('+PONG')));
    sock.on('error', () => resolve(false));
  });
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kr-redis-'));
  let server: Managed | undefined;
  const start = async (): Promise<void> => {
    server = launch(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--dir',
        dir,
      ],
      { cwd: dir },
    );
    try {
      await waitUntil(`redis-server on ${port}`, server, () => redisPing(port));
    } catch (err) {
      await kill(server, 'SIGKILL');
      throw err;
    }
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    get pid() {
      return server?.child.exitCode === null && server.child.signalCode === null
        ? server.child.pid
        : undefined;
    },
    stop: (signal = 'SIGKILL') => kill(server, signal),
    restart: async () => {
      await kill(server, 'SIGKILL');
      await start();
    },
    destroy: async () => {
      await kill(server, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** initdb refuses to run as root, so when we are root the server runs as the `postgres` user. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root but there is no postgres user to run PostgreSQL as');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function pgBinDir(): string {
  return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
}

async function pgAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function startPostgres(): Promise<TestPostgres> {
  const port = await freePort();
  const bin = pgBinDir();
  const user = postgresUser();
  const dir = mkdtempSync(join(tmpdir(), 'kr-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const init = launch(
    join(bin, 'initdb'),
    ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'],
    {
      ...user,
      cwd: dir,
    },
  );
  await init.exited;
  if (init.child.exitCode !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (exit ${init.child.exitCode}):\n${init.output.slice(-20).join('\n')}`);
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let server: Managed | undefined;
  // The postgres binary itself, not pg_ctl, so the pid we hold is the postmaster's. fsync is
  // off for speed (the OS survives our kills); synchronous_commit stays on, or an immediate
  // shutdown would lose committed rows and tests of "none lost" would fail for the wrong reason.
  const start = async (): Promise<void> => {
    server = launch(
      join(bin, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'shared_buffers=16MB',
        '-c',
        'max_connections=50',
      ],
      { ...user, cwd: dir },
    );
    try {
      await waitUntil(`postgres on ${port}`, server, () => pgAnswers(url));
    } catch (err) {
      await kill(server, 'SIGQUIT');
      throw err;
    }
  };
  try {
    await start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url,
    get pid() {
      return server?.child.exitCode === null && server.child.signalCode === null
        ? server.child.pid
        : undefined;
    },
    stop: (signal = 'SIGQUIT') => kill(server, signal),
    start: async () => {
      await kill(server, 'SIGQUIT');
      await start();
    },
    destroy: async () => {
      await kill(server, 'SIGQUIT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestPrometheus {
  readonly url: string;
  /** An instant query's samples (`/api/v1/query`), as label sets with a number. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  /** A range query's series (`/api/v1/query_range`), as Grafana's time series panels ask it. */
  queryRange(
    expr: string,
    range: { start: Date; end: Date; stepSeconds: number },
  ): Promise<{ metric: Record<string, string>; values: number[] }[]>;
  /** The values of a label among the series `match` selects (`/api/v1/label/NAME/values`). */
  labelValues(label: string, match: string): Promise<string[]>;
  /** The alerts of its rules, pending or firing (`/api/v1/alerts`). */
  alerts(): Promise<{ labels: Record<string, string>; annotations: Record<string, string>; state: string }[]>;
  destroy(): Promise<void>;
}

/**
 * A real Prometheus (Debian's package; `npm test` installs it) that scrapes `targets` every
 * second and evaluates `rules` (a rule file's YAML) every second, optionally sending its
 * alerts to an Alertmanager.
 */
export async function startPrometheus(opts: {
  targets: { job: string; address: string; labels?: Record<string, string> }[];
  rules?: string;
  alertmanager?: string;
  /** Listen here instead of a free port (for rules that must name their own Prometheus). */
  port?: number;
}): Promise<TestPrometheus> {
  if (!existsSync('/usr/bin/prometheus'))
    throw new Error('/usr/bin/prometheus missing: install Debian\'s "prometheus" package (npm test does)');
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'kr-prometheus-'));
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '900ms' },
    scrape_configs: opts.targets.map((t) => ({
      job_name: t.job,
      static_configs: [{ targets: [t.address], ...(t.labels ? { labels: t.labels } : {}) }],
    })),
    ...(opts.rules !== undefined ? { rule_files: [join(dir, 'rules.yaml')] } : {}),
    ...(opts.alertmanager
      ? {
          alerting: {
            alertmanagers: [
              { static_configs: [{ targets: [opts.alertmanager.replace(/^https?:\/\//, '')] }] },
            ],
          },
        }
      : {}),
  };
  if (opts.rules !== undefined) writeFileSync(join(dir, 'rules.yaml'), opts.rules);
  // JSON is YAML: no YAML writer needed.
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config));
  const url = `http://127.0.0.1:${port}`;
  const server = launch('/usr/bin/prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=1h',
  ]);
  try {
    await waitUntil(`prometheus on ${port}`, server, async () => (await fetch(`${url}/-/ready`)).ok);
  } catch (err) {
    await kill(server, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  return {
    url,
    query: async (expr) =>
      (
        await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
          `/api/v1/query?query=${encodeURIComponent(expr)}`,
        )
      ).result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) })),
    queryRange: async (expr, { start, end, stepSeconds }) =>
      (
        await api<{ result: { metric: Record<string, string>; values: [number, string][] }[] }>(
          `/api/v1/query_range?${new URLSearchParams({
            query: expr,
            start: String(start.getTime() / 1000),
            end: String(end.getTime() / 1000),
            step: String(stepSeconds),
          }).toString()}`,
        )
      ).result.map((r) => ({ metric: r.metric, values: r.values.map(([, v]) => Number(v)) })),
    labelValues: async (label, match) =>
      api<string[]>(
        `/api/v1/label/${encodeURIComponent(label)}/values?${new URLSearchParams({ 'match[]': match }).toString()}`,
      ),
    alerts: async () =>
      (
        await api<{
          alerts: { labels: Record<string, string>; annotations: Record<string, string>; state: string }[];
        }>('/api/v1/alerts')
      ).alerts,
    destroy: async () => {
      await kill(server, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const ALERTMANAGER = '/usr/bin/prometheus-alertmanager';

/** Installs Debian's prometheus-alertmanager when it is missing (`npm test` does it first). */
export async function ensureAlertmanager(): Promise<void> {
  if (existsSync(ALERTMANAGER)) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    execa('apt-get', ['install', '-y', '--no-install-recommends', 'prometheus-alertmanager'], {
      env,
      reject: false,
    });
  let r = await install();
  if (r.exitCode !== 0) {
    await execa('apt-get', ['update'], { env, reject: false });
    r = await install();
  }
  if (!existsSync(ALERTMANAGER)) throw new Error(`cannot install prometheus-alertmanager: ${r.stderr}`);
}

export interface RunningAlertmanager {
  readonly url: string;
  /** Its log lines, the last 200. */
  readonly output: string[];
  stop(): Promise<void>;
}

/**
 * A real Alertmanager whose one receiver is a webhook with a bearer token and `send_resolved`,
 * grouping by alertname with 1 s waits, as the chart's NOTES tell users to configure it.
 */
export async function startAlertmanager(opts: {
  webhookUrl: string;
  token: string;
}): Promise<RunningAlertmanager> {
  const dir = mkdtempSync(join(tmpdir(), 'kr-am-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    [
      'route:',
      '  receiver: kube-remediator',
      "  group_by: ['alertname']",
      '  group_wait: 1s',
      '  group_interval: 1s',
      '  repeat_interval: 1h',
      'receivers:',
      '  - name: kube-remediator',
      '    webhook_configs:',
      `      - url: ${opts.webhookUrl}`,
      '        send_resolved: true',
      '        http_config:',
      '          authorization:',
      '            type: Bearer',
      `            credentials: ${opts.token}`,
      '',
    ].join('\n'),
  );
  const server = launch(ALERTMANAGER, [
    `--config.file=${join(dir, 'alertmanager.yml')}`,
    `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
    '--log.level=debug',
  ]);
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await kill(server, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(`alertmanager on ${port}`, server, async () => (await fetch(`${url}/-/ready`)).ok);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, output: server.output, stop };
}
