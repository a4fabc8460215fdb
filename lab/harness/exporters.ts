/**
 * Debian's Prometheus exporters for the lab's own Redis and PostgreSQL: the rules read the
 * same series (`redis_up`, `pg_stat_activity_count`, ...) a cluster's exporters give.
 */
import { existsSync } from 'node:fs';
import { freePort } from '../../tools/cluster/cluster.js';
import { kill, launch, waitUntil } from '../../test/support/services.js';

export type ExporterKind = 'redis' | 'postgres';

const BINARIES: Record<ExporterKind, string> = {
  redis: '/usr/bin/prometheus-redis-exporter',
  postgres: '/usr/bin/prometheus-postgres-exporter',
};

export interface Exporter {
  readonly hostPort: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** Starts the exporter of `kind` for the server at `url` (a redis:// or postgres:// URL). */
export async function startExporter(kind: ExporterKind, url: string): Promise<Exporter> {
  const bin = BINARIES[kind];
  if (!existsSync(bin))
    throw new Error(`${bin} missing: install Debian's prometheus-${kind}-exporter package (npm test does)`);
  const port = await freePort();
  const hostPort = `127.0.0.1:${port}`;
  const args =
    kind === 'redis'
      ? [`-redis.addr=${url}`, `-web.listen-address=${hostPort}`]
      : [`--web.listen-address=${hostPort}`, '--log.level=warn'];
  const m = launch(bin, args, {
    env:
      kind === 'postgres'
        ? { PATH: process.env.PATH ?? '', DATA_SOURCE_NAME: `${url}?sslmode=disable` }
        : undefined,
  });
  await waitUntil(
    `prometheus-${kind}-exporter on ${hostPort}`,
    m,
    async () => (await fetch(`http://${hostPort}/metrics`)).ok,
  );
  return { hostPort, pid: m.child.pid, stop: () => kill(m, 'SIGTERM') };
}
