// The relay counts clients by the address Fastify's routes see: the same trustProxy, the same answer.
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { clientIp } from '../http/routes/common.js';
import { clientAddressOf, type TrustedProxies } from './client-address.js';

const TRUSTS: TrustedProxies[] = [
  false,
  ['127.0.0.1'],
  ['loopback'],
  ['10.0.0.0/8', 'loopback'],
  ['uniquelocal'],
  ['linklocal', '::1'],
  ['2001:db8::/32'],
  (address: string, hop: number) => hop === 0 && address.startsWith('10.'),
];
const REMOTES = ['127.0.0.1', '::ffff:127.0.0.1', '::1', '10.1.2.3', '203.0.113.9', 'fe80::1', '2001:db8::7'];
const FORWARDED = [
  undefined,
  '203.0.113.1',
  '198.51.100.7, 10.0.0.5',
  'junk, 10.0.0.5',
  '  203.0.113.1 ,  10.9.9.9 ',
  '2001:db8::1, 127.0.0.1',
  '192.168.1.1,172.16.0.1,10.0.0.1',
  '',
];

describe('relay client address', () => {
  it.each(TRUSTS.map((trust) => [typeof trust === 'function' ? 'a function' : JSON.stringify(trust), trust]))(
    'matches Fastify request.ip for trustProxy %s',
    async (_name, trust) => {
      const app = Fastify({ trustProxy: trust as never });
      app.get('/', (request) => ({ fastify: clientIp(request), relay: clientAddressOf(request.raw, trust) }));
      try {
        for (const remoteAddress of REMOTES) {
          for (const forwarded of FORWARDED) {
            const response = await app.inject({
              url: '/',
              remoteAddress,
              headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
            });
            const { fastify, relay } = response.json() as { fastify: string; relay: string };
            expect(relay, `${remoteAddress} ${forwarded}`).toBe(fastify);
          }
        }
      } finally {
        await app.close();
      }
    },
  );
});
