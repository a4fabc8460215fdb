/**
 * JSON logs: a constant message plus fields (`{remediation: "ns/name", step, reconcileId}`),
 * so logs can be searched by message and filtered by field.
 */
import winston from 'winston';

export type Logger = winston.Logger;

export function createLogger(level: string = process.env.KR_LOG_LEVEL ?? 'info', silent = false): Logger {
  return winston.createLogger({
    level,
    silent,
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      winston.format.json(),
    ),
    defaultMeta: { service: 'kube-remediator' },
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn'] })],
  });
}

/** A logger that writes nothing, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return createLogger('error', true);
}
