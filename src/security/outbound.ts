/**
 * The outbound allow-list (`outbound.allow`, ADR 0023): the hosts and networks that steps
 * (httpCall, notify, silence, httpCheck, prometheusQuery, redis and postgres steps) may reach,
 * so that a Runbook cannot be pointed at the API server or a cloud metadata endpoint. Empty: no
 * restriction. One process-wide setting, set once at start (the steps reach it through
 * services/http.ts, redis-client.ts and postgres.ts, the only places that open connections).
 *
 * A host name passes when it matches a name entry (`db.example.com`, `*.svc.cluster.local`),
 * else when every address it resolves to lies in an IP/CIDR entry. The name is resolved again
 * when the connection opens, so a DNS server that answers differently a moment later is not
 * caught: list names you trust, CIDRs for the rest.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { ERROR_CODES, RemediatorError } from '../util/errors.js';

export interface OutboundPolicy {
  readonly names: readonly string[];
  readonly networks: BlockList;
  readonly empty: boolean;
}

/** Parses the entries; throws on a malformed CIDR (config validation). */
export function outboundPolicy(allow: readonly string[]): OutboundPolicy {
  const names: string[] = [];
  const networks = new BlockList();
  for (const raw of allow) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    const [addr, bits] = entry.split('/');
    const family = isIP(addr ?? '');
    if (family) {
      const type = family === 6 ? 'ipv6' : 'ipv4';
      const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32))
        throw new RemediatorError(ERROR_CODES.config, `outbound.allow: "${raw}" is not a valid CIDR`);
      networks.addSubnet(addr!, prefix, type);
    } else if (bits !== undefined) {
      throw new RemediatorError(ERROR_CODES.config, `outbound.allow: "${raw}" is not a valid CIDR`);
    } else names.push(entry);
  }
  return { names, networks, empty: names.length === 0 && allow.every((a) => !a.trim()) };
}

/** Whether a host name matches a name entry (`*.x` matches any name below x). Pure. */
export function nameAllowed(host: string, names: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return names.some((n) => (n.startsWith('*.') ? h.endsWith(n.slice(1)) : h === n));
}

/** Whether an IP address lies in the allowed networks. Pure. */
export function addressAllowed(address: string, policy: OutboundPolicy): boolean {
  const family = isIP(address);
  if (!family) return false;
  return policy.networks.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

let current: OutboundPolicy = outboundPolicy([]);

/** Set once at start from `outbound.allow`. */
export function setOutboundAllowList(allow: readonly string[]): void {
  current = outboundPolicy(allow);
}

export type Resolve = (host: string) => Promise<string[]>;
const resolveAll: Resolve = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

/** Throws KR_ERR_OUTBOUND_DENIED unless `url`'s host may be reached. */
export async function checkOutbound(
  url: string,
  policy: OutboundPolicy = current,
  resolve: Resolve = resolveAll,
): Promise<void> {
  if (policy.empty) return;
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return; // Not a URL: the client refuses it with its own message.
  }
  if (nameAllowed(host, policy.names)) return;
  const addresses = isIP(host) ? [host] : await resolve(host).catch(() => []);
  if (addresses.length > 0 && addresses.every((a) => addressAllowed(a, policy))) return;
  throw new RemediatorError(
    ERROR_CODES.outboundDenied,
    `${host}${addresses.length && !isIP(host) ? ` (${addresses.join(', ')})` : ''} is not in the operator's outbound.allow list: ask the operator's admin to add it (KR_OUTBOUND_ALLOW)`,
  );
}
