import { describe, expect, it } from '@jest/globals';
import { checkOutbound, nameAllowed, outboundPolicy } from '../../../src/security/outbound.js';

const resolveTo =
  (map: Record<string, string[]>) =>
  (host: string): Promise<string[]> =>
    Promise.resolve(map[host] ?? []);

describe('outbound allow-list', () => {
  it.each<[string, string[], boolean]>([
    ['db.example.com', ['db.example.com'], true],
    ['DB.example.com.', ['db.example.com'], true],
    ['a.b.example.com', ['*.example.com'], true],
    ['example.com', ['*.example.com'], false],
    ['evil-example.com', ['*.example.com'], false],
    ['other.com', ['db.example.com'], false],
  ])('nameAllowed(%s, %j) = %s', (host, names, want) => {
    expect(nameAllowed(host, names)).toBe(want);
  });

  const policy = outboundPolicy(['prometheus.monitoring.svc', '10.20.0.0/16', 'fd00::/8', '192.0.2.7']);
  const resolve = resolveTo({
    'app.team-a.svc': ['10.20.3.4'],
    'split.example': ['10.20.3.4', '10.99.0.1'],
    metadata: ['169.254.169.254'],
  });

  it.each<[string, boolean]>([
    ['http://prometheus.monitoring.svc:9090/api/v1/query', true],
    ['http://app.team-a.svc/', true], // resolves into an allowed CIDR
    ['http://10.20.255.1/', true],
    ['http://192.0.2.7/', true],
    ['http://[fd00::1]:80/', true],
    ['redis://10.20.0.9:6379/0', true],
    ['http://split.example/', false], // one address outside: refused
    ['http://169.254.169.254/latest/meta-data/', false],
    ['http://metadata/', false],
    ['https://kubernetes.default.svc/', false], // does not resolve here: refused
    ['postgres://u@10.21.0.1:5432/db', false],
  ])('%s allowed: %s', async (url, want) => {
    const p = checkOutbound(url, policy, resolve);
    if (want) await expect(p).resolves.toBeUndefined();
    else await expect(p).rejects.toMatchObject({ code: 'KR_ERR_OUTBOUND_DENIED' });
  });

  it('empty list: off', async () => {
    await expect(
      checkOutbound('http://169.254.169.254/', outboundPolicy([]), resolve),
    ).resolves.toBeUndefined();
  });

  it.each(['10.0.0.0/33', 'host/8', '10.0.0.0/x'])('refuses a malformed entry %s', (e) => {
    expect(() => outboundPolicy([e])).toThrow(/outbound.allow: .* is not a valid CIDR/);
  });
});
