/** Test helpers for store and audit tests: a logger that keeps its entries, and a metric reader. */
import { Writable } from 'node:stream';
import winston from 'winston';
import type { Logger } from '../../../src/observability/logger.js';
import type { Metrics } from '../../../src/observability/metrics.js';

export interface LogEntry {
  level: string;
  message: string;
  [field: string]: unknown;
}

export function capturingLogger(): { logger: Logger; entries: LogEntry[]; messages: () => string[] } {
  const entries: LogEntry[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      entries.push(JSON.parse(chunk.toString()) as LogEntry);
      cb();
    },
  });
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, entries, messages: () => entries.map((e) => e.message) };
}

export async function metricValue(
  metrics: Metrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const all = await metrics.registry.getMetricsAsJSON();
  const m = all.find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value;
}
