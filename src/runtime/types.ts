/** Which informer event a handler or watch mapping sees (controller-runtime's Create, Update, Delete). */
export type WatchEvent = 'add' | 'update' | 'delete';

/**
 * The controller runtime's contract (the shape of controller-runtime's reconcile package).
 * The runtime owns informers, caches, the work queue, leader election and shutdown; a
 * reconciler only gets a key and re-reads the world.
 */
export interface Request {
  readonly namespace: string;
  readonly name: string;
}

/** `requeueAfterMs`: look again later (no error, no backoff). Nothing: done until the next event. */
export interface Result {
  requeueAfterMs?: number;
}

export interface ReconcileContext {
  /** Unique per pass, for logs. */
  readonly reconcileId: string;
  /** Aborted on shutdown: finish or checkpoint the step in flight, then return. */
  readonly signal: AbortSignal;
}

/**
 * A thrown error means "retry with exponential backoff" (capped by controller.maxBackoff); a
 * RemediatorError with `terminal: true` is logged and not retried.
 */
export interface Reconciler {
  reconcile(req: Request, ctx: ReconcileContext): Promise<Result | void>;
}

/** A read-only view of an informer's cache. Objects must not be mutated. */
export interface Cache<T> {
  get(namespace: string, name: string): T | undefined;
  list(namespace?: string): readonly T[];
}

export function keyOf(req: Request): string {
  return `${req.namespace}/${req.name}`;
}
