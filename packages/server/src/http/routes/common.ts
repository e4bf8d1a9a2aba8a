import { isIP } from 'node:net';
import type { DeviceInfo, IssuedSession } from '@latchkey/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CookieNames } from '../credentials.js';
import { rateKey } from '../rate-limit.js';
import type { Services } from '../route.js';

/**
 * The client address for device records (`::ffff:` IPv4-mapped addresses as plain IPv4): the socket's
 * peer, or what the proxies `trustProxy` names say it is.
 */
export function clientIp(request: FastifyRequest): string {
  const ip = request.ip ?? '';
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** Who a rate limit counts: the client address, an IPv6 client by its /64. */
export function rateClient(request: FastifyRequest): string {
  return rateKey(clientIp(request));
}

/** What the server records of the device at sign-in: informational, never used to authenticate. */
export function deviceOf(request: FastifyRequest, deviceId: string | undefined): DeviceInfo {
  const device: DeviceInfo = {};
  const userAgent = request.headers['user-agent'];
  if (typeof userAgent === 'string' && userAgent.length > 0) device.userAgent = userAgent.slice(0, 512);
  const ip = clientIp(request);
  if (isIP(ip) !== 0) device.ip = ip;
  if (deviceId !== undefined) device.deviceId = deviceId;
  return device;
}

/**
 * Bearer mode answers the tokens in the body. Cookie mode puts them in HttpOnly cookies and leaves them
 * out of the body, so no page script ever holds them.
 */
export function answerIssued(
  reply: FastifyReply,
  services: Services,
  issued: IssuedSession,
  cookies: CookieNames | undefined,
): IssuedSession | { session: IssuedSession['session']; accessToken?: string } {
  if (!cookies) return issued;
  services.cookies.issue(reply, cookies, issued, services.clock.now());
  return issued.accessToken === undefined
    ? { session: issued.session }
    : { session: issued.session, accessToken: issued.accessToken };
}
