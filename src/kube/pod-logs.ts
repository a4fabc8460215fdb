/**
 * Reading a container's log through the API server (`GET pods/{name}/log`, which the API
 * server proxies to the kubelet of the pod's node). client-node's Log helper drops the API
 * server's error message and its typed call buffers whatever comes back; this reads the
 * stream, keeps whole lines (each cut to `maxLineBytes`) and stops at `maxReadBytes`, so
 * one chatty or binary log cannot hold much memory.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import * as k8s from '@kubernetes/client-node';

export interface LogRequest {
  namespace: string;
  pod: string;
  container: string;
  tailLines: number;
  previous: boolean;
}

export interface LogRead {
  /** The lines, oldest first, each cut to maxLineBytes (a cut line ends in `…`). */
  lines: string[];
  /** The log was longer than maxReadBytes: reading stopped, the newest lines are missing. */
  cut: boolean;
}

export interface LogLimits {
  maxLineBytes: number;
  maxReadBytes: number;
  timeoutMs: number;
}

export const DEFAULT_LOG_LIMITS: LogLimits = { maxLineBytes: 2048, maxReadBytes: 4 << 20, timeoutMs: 10_000 };

/** Splits a byte stream into lines, each cut to `max` bytes, without holding a long line whole. */
export class LineSplitter {
  readonly lines: string[] = [];
  private parts: Buffer[] = [];
  private partBytes = 0;
  private long = false;

  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.add(chunk.subarray(start, nl));
      this.end();
      start = nl + 1;
    }
    if (start < chunk.length) this.add(chunk.subarray(start));
  }

  end(): void {
    let text = Buffer.concat(this.parts).toString('utf8').replace(/\r$/, '');
    if (this.long) text = `${text.replace(/\uFFFD+$/, '')}…`;
    this.lines.push(text);
    this.parts = [];
    this.partBytes = 0;
    this.long = false;
  }

  /** The last line, if the stream did not end with a newline. */
  finish(): void {
    if (this.partBytes > 0 || this.long) this.end();
  }

  private add(bytes: Buffer): void {
    const room = this.max - this.partBytes;
    if (bytes.length > room) this.long = true;
    const kept = bytes.subarray(0, Math.max(0, room));
    if (kept.length) {
      this.parts.push(Buffer.from(kept));
      this.partBytes += kept.length;
    }
  }
}

function logUrl(server: string, r: LogRequest): URL {
  const url = new URL(
    `${server.replace(/\/+$/, '')}/api/v1/namespaces/${encodeURIComponent(r.namespace)}/pods/${encodeURIComponent(r.pod)}/log`,
  );
  url.searchParams.set('container', r.container);
  url.searchParams.set('tailLines', String(r.tailLines));
  if (r.previous) url.searchParams.set('previous', 'true');
  return url;
}

async function readError(res: IncomingMessage): Promise<k8s.ApiException<string>> {
  let body = '';
  for await (const chunk of res) {
    if (body.length < 8192) body += (chunk as Buffer).toString('utf8');
  }
  // The API server answers a Status object; client-node's helpers read its message from `body`.
  return new k8s.ApiException(res.statusCode ?? 500, `pods/log: HTTP ${res.statusCode}`, body, {});
}

/**
 * The newest `tailLines` lines of one container's log. Throws an ApiException (with the API
 * server's Status as its body) when the API server answers with an error, and a plain Error
 * when it cannot be reached.
 */
export async function readContainerLog(
  kc: k8s.KubeConfig,
  r: LogRequest,
  limits: LogLimits = DEFAULT_LOG_LIMITS,
): Promise<LogRead> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const url = logUrl(cluster.server, r);
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  if (url.protocol === 'http:') delete opts.agent;
  return new Promise<LogRead>((resolve, reject) => {
    const req = send(url, { ...opts, method: 'GET', timeout: limits.timeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        readError(res).then(reject, reject);
        return;
      }
      const split = new LineSplitter(limits.maxLineBytes);
      let read = 0;
      let cut = false;
      res.on('data', (chunk: Buffer) => {
        if (cut) return;
        const room = limits.maxReadBytes - read;
        if (chunk.length > room) {
          split.push(chunk.subarray(0, room));
          cut = true;
          // Enough read: a partial last line is dropped rather than shown as if whole.
          req.destroy();
          resolve({ lines: split.lines, cut });
          return;
        }
        read += chunk.length;
        split.push(chunk);
      });
      res.on('end', () => {
        split.finish();
        resolve({ lines: split.lines, cut });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`pods/log: no answer within ${limits.timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
