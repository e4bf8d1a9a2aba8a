import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/**
 * The proxies whose `X-Forwarded-For` is believed, as the server's `trustProxy` resolves them: none, a
 * list of addresses, CIDRs and range names, or a function of an address and its hop (0: the socket's peer).
 */
export type TrustedProxies = false | readonly string[] | ((address: string, hop: number) => boolean);

/** proxy-addr's names for address ranges, which `trustProxy` accepts too. */
const RANGES: Readonly<Record<string, readonly string[]>> = {
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  loopback: ['127.0.0.1/8', '::1/128'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

const familyOf = (address: string): 'ipv4' | 'ipv6' | null => {
  const family = isIP(address);
  return family === 4 ? 'ipv4' : family === 6 ? 'ipv6' : null;
};

/**
 * Compiles `trustProxy` once into the test of one hop. An IPv4-mapped IPv6 peer (`::ffff:10.0.0.1`)
 * matches the IPv4 entries, as with proxy-addr. Entries were checked with the server's options.
 */
export function trustOf(trusted: TrustedProxies): (address: string, hop: number) => boolean {
  if (trusted === false) return () => false;
  if (typeof trusted === 'function') return trusted;
  const list = new BlockList();
  for (const entry of trusted.flatMap((e) => RANGES[e] ?? [e])) {
    const slash = entry.indexOf('/');
    const address = slash < 0 ? entry : entry.slice(0, slash);
    const family = familyOf(address);
    if (family === null) continue;
    if (slash < 0) list.addAddress(address, family);
    else list.addSubnet(address, Number(entry.slice(slash + 1)), family);
  }
  return (address) => {
    const family = familyOf(address);
    return family !== null && list.check(address, family);
  };
}

/**
 * The client's address as Fastify's `request.ip` gives it (`trustProxy` through proxy-addr), with an
 * IPv4-mapped address as plain IPv4 like the HTTP routes' `clientIp`: the socket's peer; while that hop
 * is trusted, the next address of `X-Forwarded-For` from the right, and so on. Pass `trustOf(…)` to
 * compile a list once.
 */
export function clientAddressOf(request: IncomingMessage, trust: TrustedProxies): string {
  const isTrusted = typeof trust === 'function' ? trust : trustOf(trust);
  const header = request.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((entry) => entry.replace(/^ +| +$/g, ''))
    .filter((entry) => entry !== '')
    .reverse();
  const hops = [request.socket.remoteAddress ?? '', ...forwarded];
  let address = hops[hops.length - 1]!;
  for (let hop = 0; hop < hops.length - 1; hop++) {
    if (!isTrusted(hops[hop]!, hop)) {
      address = hops[hop]!;
      break;
    }
  }
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
