import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { labelValue, remediationName } from '../../../src/intake/naming.js';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

describe('remediationName', () => {
  it('is <runbook>-<10 hex of sha256(namespace/runbook/fingerprint/startsAt)>', () => {
    const hash = createHash('sha256')
      .update('shop/restart-web/a1b2c3d4e5f60718/2026-01-01T10:00:00Z')
      .digest('hex')
      .slice(0, 10);
    expect(remediationName('shop', 'restart-web', 'a1b2c3d4e5f60718', '2026-01-01T10:00:00Z')).toBe(
      `restart-web-${hash}`,
    );
  });

  it('is the same for the same occurrence and differs for another one', () => {
    const a = remediationName('shop', 'rb', 'ff00', '2026-01-01T10:00:00Z');
    expect(remediationName('shop', 'rb', 'ff00', '2026-01-01T10:00:00Z')).toBe(a);
    expect(remediationName('shop', 'rb', 'FF00', '2026-01-01T10:00:00Z')).toBe(a);
    expect(remediationName('shop', 'rb', 'ff00', '2026-01-01T10:05:00Z')).not.toBe(a);
    expect(remediationName('shop', 'rb', 'ff01', '2026-01-01T10:00:00Z')).not.toBe(a);
    expect(remediationName('other', 'rb', 'ff00', '2026-01-01T10:00:00Z')).not.toBe(a);
    expect(remediationName('shop', 'rb2', 'ff00', '2026-01-01T10:00:00Z')).not.toBe(a);
  });

  it.each([
    ['a short name', 'rb'],
    ['a 253-character name', `${'a'.repeat(200)}.${'b'.repeat(52)}`],
    ['a name cut right after a dash', `${'a'.repeat(51)}-tail`],
    ['a name cut right after a dot', `${'a'.repeat(51)}.tail`],
    ['a name of dashes and dots at the cut', `${'a'.repeat(48)}-.-.-.-x`],
    ['a name of exactly 52 characters', 'a'.repeat(52)],
  ])('is a valid DNS-1123 name and label value of at most 63 characters for %s', (_what, runbook) => {
    const name = remediationName('ns', runbook, 'abcdef0123456789', '2026-01-01T00:00:00Z');
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(DNS1123_SUBDOMAIN);
    expect(name).toMatch(LABEL_VALUE);
    expect(name).toMatch(/-[0-9a-f]{10}$/);
  });
});

describe('labelValue', () => {
  it('keeps a valid value as it is', () => {
    expect(labelValue('KubePodCrashLooping')).toBe('KubePodCrashLooping');
    expect(labelValue('a.b_c-d')).toBe('a.b_c-d');
  });

  it.each([
    ['spaces and punctuation', 'High CPU! on web'],
    ['a value over 63 characters', 'A'.repeat(100)],
    ['a leading dash', '-x'],
    ['only punctuation', '!!!'],
    ['newlines', 'a\nb'],
  ])('turns %s into a valid, distinct label value', (_what, text) => {
    const v = labelValue(text);
    expect(v.length).toBeLessThanOrEqual(63);
    expect(v).toMatch(LABEL_VALUE);
    expect(v).not.toBe(labelValue(`${text}2`));
  });
});
