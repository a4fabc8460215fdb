/**
 * Binding a port at start: a port taken by another process (often a second `npm start`, or
 * another service on 8080) stops the operator with KR_ERR_PORT_IN_USE naming the port, the
 * setting that chose it and how to choose another, not with a bare EADDRINUSE.
 */
import { settingName } from '../config/config.js';
import { ERROR_CODES, StartupError, systemErrorWords } from '../util/errors.js';

export interface ListenTarget {
  /** `webhook` or `probes`. */
  what: string;
  host: string;
  port: number;
  /** The config path of the port, e.g. `webhook.port`. */
  setting: string;
}

export async function listenOrExplain<T>(listen: () => Promise<T>, t: ListenTarget): Promise<T> {
  try {
    return await listen();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') throw err;
    const address = `${t.host}:${t.port}`;
    throw new StartupError(
      ERROR_CODES.portInUse,
      `cannot listen on ${address} for the ${t.what}`,
      {
        facts: [
          ['address', address],
          ['setting', settingName(t.setting)],
        ],
        cause: systemErrorWords(code) ?? code,
        fix:
          code === 'EADDRINUSE'
            ? `stop the other process (\`ss -ltnp 'sport = :${t.port}'\` names it; another kube-remediator or npm start?), or choose another port with the setting above (0 picks a free one)`
            : 'choose another port or address with the setting above (ports below 1024 need privileges)',
      },
      { cause: err },
    );
  }
}
