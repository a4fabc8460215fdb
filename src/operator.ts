/** Wiring only: builds every part of the operator from the configuration and starts it. */
import type { Config } from './config/config.js';
import type { Logger } from './observability/logger.js';

export interface RunningOperator {
  /** Resolves when the operator has stopped by itself (lost leadership, fatal error). */
  readonly done: Promise<void>;
  /** Graceful shutdown: readiness false, step in flight finished, Lease released. */
  stop(): Promise<void>;
}

export interface OperatorOptions {
  log: Logger;
  installCrds?: boolean;
}

export function startOperator(_config: Readonly<Config>, _opts: OperatorOptions): Promise<RunningOperator> {
  return Promise.reject(new Error('not wired yet'));
}
