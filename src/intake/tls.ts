/**
 * Optional TLS for the webhook port (Alertmanager's webhook and the approval endpoint): a
 * certificate and key read from files, as mounted from a `kubernetes.io/tls` Secret (cert-manager
 * writes one), and taken up without a restart when they change.
 *
 * Why two triggers: Kubernetes updates a Secret volume by writing a new timestamped directory
 * and swapping the `..data` symlink, so the files' own inodes never change and a watch on a file
 * sees nothing; `fs.watch` on the directory sees the swap at once. Watches are not delivered on
 * every filesystem (NFS, some overlay setups), so a periodic re-read backs it up. A new pair is
 * installed with `https.Server#setSecureContext`: connections already open keep their session,
 * new handshakes get the new certificate. A pair that does not load (a half-written update: the
 * new certificate with the old key) keeps the old one and is tried again on the next change.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import { settingName, type Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import { parseDuration } from '../util/duration.js';
import { ERROR_CODES, StartupError, systemErrorWords } from '../util/errors.js';

export type TlsConfig = Config['webhook']['tls'];

/** A certificate and key that load together. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** What the logs say about a certificate (never the key). */
export interface CertificateFacts {
  subject: string;
  notAfter: string;
  fingerprint: string;
}

/** Collapses a burst of directory events (a Secret update is several) into one re-read. */
const SETTLE_MS = 100;

export function tlsEnabled(cfg: TlsConfig): boolean {
  return cfg.certFile !== '' || cfg.keyFile !== '';
}

/** Why a pair of PEM texts cannot serve, or undefined when it can (pure apart from OpenSSL). */
export function keyPairProblem(pair: KeyPair): string | undefined {
  try {
    new X509Certificate(pair.cert);
  } catch (err) {
    return `the certificate is not a PEM X.509 certificate (${(err as Error).message})`;
  }
  try {
    createSecureContext({ cert: pair.cert, key: pair.key });
  } catch (err) {
    const m = (err as Error).message;
    return /key values mismatch/i.test(m)
      ? 'the key does not belong to the certificate'
      : `the key cannot be used with the certificate (${m})`;
  }
  return undefined;
}

export function certificateFacts(cert: string): CertificateFacts {
  const x = new X509Certificate(cert);
  return { subject: x.subject.replace(/\n/g, ', '), notAfter: x.validTo, fingerprint: x.fingerprint256 };
}

function readPem(file: string, what: string, setting: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const words = systemErrorWords(code) ?? (err as Error).message;
    throw new StartupError(
      ERROR_CODES.webhookTls,
      `cannot read the webhook TLS ${what} file ${file}: ${words}`,
      {
        facts: [
          ['file', file],
          ['setting', settingName(setting)],
        ],
        cause: `${words}${code === 'EACCES' ? ` for uid ${process.getuid?.() ?? '?'}` : ''}`,
        fix: `mount the TLS Secret there (tls.crt and tls.key; the chart's webhook.tls.secretName) readable by the operator's user, or point the setting above at the right file`,
      },
      { cause: err },
    );
  }
}

/** Reads and checks the pair at start; every failure is KR_ERR_WEBHOOK_TLS naming the files. */
export function loadKeyPair(cfg: TlsConfig): KeyPair {
  if (!cfg.certFile || !cfg.keyFile) {
    const missing = cfg.certFile ? 'webhook.tls.keyFile' : 'webhook.tls.certFile';
    const given = cfg.certFile ? 'webhook.tls.certFile' : 'webhook.tls.keyFile';
    throw new StartupError(ERROR_CODES.webhookTls, `webhook TLS needs both a certificate and a key`, {
      facts: [
        ['given', `${settingName(given)} = ${cfg.certFile || cfg.keyFile}`],
        ['missing', settingName(missing)],
      ],
      fix: 'set both files (tls.crt and tls.key of the same Secret), or neither for plain HTTP',
    });
  }
  const pair = {
    cert: readPem(cfg.certFile, 'certificate', 'webhook.tls.certFile'),
    key: readPem(cfg.keyFile, 'key', 'webhook.tls.keyFile'),
  };
  const problem = keyPairProblem(pair);
  if (problem)
    throw new StartupError(ERROR_CODES.webhookTls, `cannot use the webhook TLS certificate: ${problem}`, {
      facts: [
        ['certificate', `${cfg.certFile} (${settingName('webhook.tls.certFile')})`],
        ['key', `${cfg.keyFile} (${settingName('webhook.tls.keyFile')})`],
      ],
      cause: problem,
      fix: 'give a PEM certificate (chain) and its own PEM private key, e.g. tls.crt and tls.key of one kubernetes.io/tls Secret',
    });
  return pair;
}

/**
 * The loaded pair and its reloading. `attach` hands it the server to update; `close` stops the
 * watches and the timer (they never keep the process alive).
 */
export class ReloadingKeyPair {
  private current: KeyPair;
  private digest: string;
  private server?: Pick<HttpsServer, 'setSecureContext'>;
  private readonly watchers: FSWatcher[] = [];
  private readonly timer: NodeJS.Timeout;
  private settle?: NodeJS.Timeout;

  constructor(
    private readonly cfg: TlsConfig,
    private readonly log: Logger,
  ) {
    this.current = loadKeyPair(cfg);
    this.digest = digestOf(this.current);
    log.info('webhook certificate loaded', { ...certificateFacts(this.current.cert) });
    for (const dir of new Set([dirname(cfg.certFile), dirname(cfg.keyFile)])) {
      try {
        const w = watch(dir, { persistent: false }, () => this.soon());
        w.on('error', () => w.close());
        this.watchers.push(w);
      } catch (err) {
        // The periodic re-read still runs.
        log.warn('webhook certificate directory not watched', { dir, error: (err as Error).message });
      }
    }
    this.timer = setInterval(() => this.reload(), parseDuration(cfg.reloadInterval));
    this.timer.unref();
  }

  /** The pair for the server's options at creation. */
  get pair(): KeyPair {
    return this.current;
  }

  attach(server: Pick<HttpsServer, 'setSecureContext'>): void {
    this.server = server;
  }

  private soon(): void {
    if (this.settle) clearTimeout(this.settle);
    this.settle = setTimeout(() => this.reload(), SETTLE_MS);
    this.settle.unref();
  }

  /** Re-reads both files; installs them when they changed and load together. Returns whether it did. */
  reload(): boolean {
    let next: KeyPair;
    try {
      next = { cert: readFileSync(this.cfg.certFile, 'utf8'), key: readFileSync(this.cfg.keyFile, 'utf8') };
    } catch (err) {
      // Mid-swap a file may be missing for a moment: keep serving the old pair.
      this.log.warn('webhook certificate not reloaded', { error: (err as Error).message });
      return false;
    }
    const d = digestOf(next);
    if (d === this.digest) return false;
    const problem = keyPairProblem(next);
    if (problem) {
      this.log.warn('webhook certificate not reloaded', { error: problem });
      return false;
    }
    this.server?.setSecureContext({ cert: next.cert, key: next.key });
    this.current = next;
    this.digest = d;
    this.log.info('webhook certificate reloaded', { ...certificateFacts(next.cert) });
    return true;
  }

  close(): void {
    clearInterval(this.timer);
    if (this.settle) clearTimeout(this.settle);
    for (const w of this.watchers) w.close();
  }
}

function digestOf(p: KeyPair): string {
  return createHash('sha256').update(p.cert).update('\0').update(p.key).digest('hex');
}
