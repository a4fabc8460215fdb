/** Stands in for client-node's Watch transport, so tests drive client-node's real ListWatch. */
export type WatchCb = (type: string, obj: unknown) => void;
export type DoneCb = (err: unknown) => void;

/** Each watch() call is recorded and driven by the test. */
export class ScriptedWatch {
  calls: {
    path: string;
    query: Record<string, unknown>;
    cb: WatchCb;
    done: DoneCb;
    controller: AbortController;
  }[] = [];
  failNext: Error | undefined;

  watch(path: string, query: Record<string, unknown>, cb: WatchCb, done: DoneCb): Promise<AbortController> {
    const controller = new AbortController();
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = undefined;
      done(err);
      return Promise.resolve(controller);
    }
    const call = { path, query, cb, done, controller };
    this.calls.push(call);
    // As node-fetch does: aborting ends the stream with an AbortError.
    controller.signal.addEventListener('abort', () => {
      const e = new Error('The user aborted a request.');
      e.name = 'AbortError';
      setImmediate(() => done(e));
    });
    return Promise.resolve(controller);
  }

  last() {
    return this.calls[this.calls.length - 1]!;
  }
}
