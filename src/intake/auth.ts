/**
 * Webhook authentication: a bearer token (what Alertmanager's `http_config.authorization`
 * sends), basic auth, and optionally the bearer token as `?token=` for senders that cannot set
 * headers. Secrets come from files (a mounted Secret, re-read when the file changes) or from
 * the config/env. Comparisons are constant-time over SHA-256 digests, so neither the content
 * nor the length of a secret leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import { settingName } from '../config/config.js';
import { ERROR_CODES, RemediatorError, StartupError, systemErrorWords } from '../util/errors.js';

export type AuthConfig = Config['webhook']['auth'];

/** How often a secret file is checked for changes (Kubernetes swaps Secret mounts atomically). */
const FILE_POLL_MS = 2000;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Constant-time equality of two strings (equal-length digests, so no length leak). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

class Secret {
  private value: string;
  constructor(
    readonly what: string,
    /** The config path of the file, e.g. `webhook.auth.bearerTokenFile`, for the error. */
    private readonly setting: string,
    private readonly file: string,
    inline: string,
    private readonly log: Logger,
  ) {
    this.value = file ? Secret.read(file, what, setting) : inline;
    if (file) watchFile(file, { interval: FILE_POLL_MS, persistent: false }, this.onChange);
  }

  private static read(file: string, what: string, setting: string): string {
    try {
      // A trailing newline is almost always an artefact of `echo` or an editor.
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new StartupError(
        ERROR_CODES.config,
        `cannot read the webhook ${what} file ${file}: ${systemErrorWords(code) ?? (err as Error).message}`,
        {
          facts: [
            ['file', file],
            ['setting', settingName(setting)],
          ],
          cause: `${systemErrorWords(code) ?? (err as Error).message}${code === 'EACCES' ? ` for uid ${process.getuid?.() ?? '?'}` : ''}`,
          fix: `write the ${what} into that file (e.g. a mounted Secret; \`openssl rand -hex 32 > FILE\`) readable by the operator's user, or point the setting above at the right file`,
        },
        { cause: err },
      );
    }
  }

  private readonly onChange = (cur: Stats, prev: Stats): void => {
    if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
    try {
      const next = Secret.read(this.file, this.what, this.setting);
      if (next) {
        this.value = next;
        this.log.info('webhook secret reloaded', { secret: this.what, file: this.file });
      }
    } catch (err) {
      // Keep the old value: a Secret being swapped must not lock Alertmanager out.
      this.log.warn('webhook secret not reloaded', {
        secret: this.what,
        file: this.file,
        error: (err as Error).message,
      });
    }
  };

  get(): string {
    return this.value;
  }

  close(): void {
    if (this.file) unwatchFile(this.file, this.onChange);
  }
}

export interface RequestCredentials {
  authorization?: string;
  queryToken?: string;
}

export class WebhookAuth {
  readonly disabled: boolean;
  private readonly bearer?: Secret;
  private readonly basicUser: string;
  private readonly basicPassword?: Secret;
  private readonly allowQueryToken: boolean;

  constructor(cfg: AuthConfig, log: Logger) {
    this.disabled = cfg.disabled;
    this.allowQueryToken = cfg.allowQueryToken;
    this.basicUser = cfg.basicUsername;
    if (cfg.disabled) {
      log.warn(
        'webhook authentication is disabled: anyone who can reach the webhook can start remediations',
        {
          setting: 'webhook.auth.disabled',
        },
      );
      return;
    }
    if (cfg.bearerTokenFile || cfg.bearerToken)
      this.bearer = new Secret(
        'bearer token',
        'webhook.auth.bearerTokenFile',
        cfg.bearerTokenFile,
        cfg.bearerToken,
        log,
      );
    if (cfg.basicUsername && (cfg.basicPasswordFile || cfg.basicPassword)) {
      this.basicPassword = new Secret(
        'basic-auth password',
        'webhook.auth.basicPasswordFile',
        cfg.basicPasswordFile,
        cfg.basicPassword,
        log,
      );
    }
    if (!this.bearer?.get() && !this.basicPassword?.get()) {
      this.close();
      throw new RemediatorError(
        ERROR_CODES.config,
        'webhook authentication is on but no credential is configured: set webhook.auth.bearerTokenFile (KR_WEBHOOK_BEARER_TOKEN_FILE) or basic auth, or turn it off explicitly with webhook.auth.disabled',
      );
    }
  }

  /** True when the request carries a valid credential (or auth is off). */
  check(req: RequestCredentials): boolean {
    if (this.disabled) return true;
    const header = req.authorization ?? '';
    const space = header.indexOf(' ');
    const scheme = space > 0 ? header.slice(0, space).toLowerCase() : '';
    const value = space > 0 ? header.slice(space + 1).trim() : '';
    const token = this.bearer?.get();
    if (scheme === 'bearer' && token) return safeEqual(value, token);
    if (scheme === 'basic' && this.basicPassword) return this.checkBasic(value);
    if (!header && this.allowQueryToken && token && req.queryToken !== undefined)
      return safeEqual(req.queryToken, token);
    return false;
  }

  private checkBasic(encoded: string): boolean {
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    // Both halves are always compared, so timing does not tell which one was wrong.
    const userOk = safeEqual(decoded.slice(0, colon), this.basicUser);
    const passOk = safeEqual(decoded.slice(colon + 1), this.basicPassword?.get() ?? '');
    return userOk && passOk;
  }

  close(): void {
    this.bearer?.close();
    this.basicPassword?.close();
  }
}
