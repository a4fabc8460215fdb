/**
 * The webhook's TLS key pair: the start refuses a missing, half-configured or mismatched pair
 * with KR_ERR_WEBHOOK_TLS, and a reload installs a new pair only when it changed and loads,
 * keeping the old one through a half-written update.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/observability/logger.js';
import { ReloadingKeyPair, certificateFacts, loadKeyPair, type TlsConfig } from '../../../src/intake/tls.js';
import { StartupError } from '../../../src/util/errors.js';
import { makeCa, makeServerCert, writeSecretVolume, type TestCert } from '../../support/tls.js';

let dir: string;
let one: TestCert;
let two: TestCert;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kr-tls-unit-'));
  const ca = await makeCa(dir);
  one = await makeServerCert(dir, ca, 'webhook-one');
  two = await makeServerCert(dir, ca, 'webhook-two');
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cfgIn = (d: string, over: Partial<TlsConfig> = {}): TlsConfig => ({
  certFile: join(d, 'tls.crt'),
  keyFile: join(d, 'tls.key'),
  reloadInterval: '1h',
  ...over,
});

function failure(f: () => unknown): StartupError {
  try {
    f();
  } catch (err) {
    return err as StartupError;
  }
  throw new Error('did not throw');
}

describe('loadKeyPair at start', () => {
  it('loads a matching pair', () => {
    const d = mkdtempSync(join(dir, 'ok-'));
    writeSecretVolume(d, { 'tls.crt': one.cert, 'tls.key': one.key });
    expect(loadKeyPair(cfgIn(d)).cert).toBe(one.cert);
  });

  it.each<[string, (d: string) => TlsConfig, string, string]>([
    [
      'a missing certificate file',
      (d) => cfgIn(d),
      'cannot read the webhook TLS certificate file',
      'webhook.tls.certFile (env KR_WEBHOOK_TLS_CERT_FILE)',
    ],
    [
      'only the certificate set',
      (d) => cfgIn(d, { keyFile: '' }),
      'needs both a certificate and a key',
      'webhook.tls.keyFile (env KR_WEBHOOK_TLS_KEY_FILE)',
    ],
  ])('%s: KR_ERR_WEBHOOK_TLS naming the setting', (_n, cfg, message, setting) => {
    const d = mkdtempSync(join(dir, 'bad-'));
    const err = failure(() => loadKeyPair(cfg(d)));
    expect(err).toBeInstanceOf(StartupError);
    expect(err.code).toBe('KR_ERR_WEBHOOK_TLS');
    expect(err.message).toContain(message);
    expect(JSON.stringify(err.details.facts)).toContain(setting);
  });

  it('a key of another certificate: KR_ERR_WEBHOOK_TLS saying so', () => {
    const d = mkdtempSync(join(dir, 'mismatch-'));
    writeSecretVolume(d, { 'tls.crt': one.cert, 'tls.key': two.key });
    const err = failure(() => loadKeyPair(cfgIn(d)));
    expect(err.code).toBe('KR_ERR_WEBHOOK_TLS');
    expect(err.message).toContain('the key does not belong to the certificate');
  });

  it('a certificate that is not PEM: KR_ERR_WEBHOOK_TLS saying so', () => {
    const d = mkdtempSync(join(dir, 'garbage-'));
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'tls.crt'), 'not a certificate\n');
    writeFileSync(join(d, 'tls.key'), one.key);
    const err = failure(() => loadKeyPair(cfgIn(d)));
    expect(err.code).toBe('KR_ERR_WEBHOOK_TLS');
    expect(err.message).toContain('not a PEM X.509 certificate');
  });
});

describe('ReloadingKeyPair.reload', () => {
  it('installs a changed pair once, keeps the old one through a half-written update', () => {
    const d = mkdtempSync(join(dir, 'reload-'));
    writeSecretVolume(d, { 'tls.crt': one.cert, 'tls.key': one.key });
    const installed: string[] = [];
    const pair = new ReloadingKeyPair(cfgIn(d), silentLogger());
    try {
      pair.attach({ setSecureContext: (o) => installed.push(certificateFacts(String(o?.cert)).subject) });
      expect(pair.reload()).toBe(false); // unchanged
      // The new certificate with the old key (a non-atomic update): not taken.
      writeSecretVolume(d, { 'tls.crt': two.cert, 'tls.key': one.key });
      expect(pair.reload()).toBe(false);
      expect(pair.pair.cert).toBe(one.cert);
      writeSecretVolume(d, { 'tls.crt': two.cert, 'tls.key': two.key });
      expect(pair.reload()).toBe(true);
      expect(pair.reload()).toBe(false);
      expect(installed).toEqual(['CN=webhook-two']);
      expect(pair.pair.cert).toBe(two.cert);
      // A file gone for a moment: the current pair stays.
      rmSync(join(d, 'tls.key'));
      expect(pair.reload()).toBe(false);
      expect(pair.pair.cert).toBe(two.cert);
    } finally {
      pair.close();
    }
  });
});
