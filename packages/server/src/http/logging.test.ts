import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { APP_ORIGIN, type IssuedBody, signIn, siweMessage, startFixture, WALLETS } from '../../test-support/http/index.js';
import { createApiKey } from '../index.js';
import { engineLogger, serverLogger } from './logging.js';

/** Every line the server logs, at the most verbose level. */
function captureLogs(): { logger: pino.Logger; text: () => string; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: 'trace' }, stream);
  return {
    logger,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('logs', () => {
  it('carry a request id and never a token, key, signature or cookie issued during the run', async () => {
    const logs = captureLogs();
    const f = await startFixture({ logger: logs.logger, defaults: { accessTokens: { audience: 'api.example.com' } } });
    const secrets: string[] = [];
    const keep = (issued: IssuedBody) => {
      secrets.push(issued.token, issued.refreshToken);
      if (issued.accessToken) secrets.push(issued.accessToken);
    };
    const { key } = await createApiKey(f.store, 'default', 'logs');
    secrets.push(key, key.slice(key.indexOf('.') + 1));
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

    // Bearer mode, the whole lifecycle.
    const { issued } = await signIn(f, WALLETS[0]!);
    keep(issued);
    await f.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(issued.token) });
    const refreshed = (
      await f.app.inject({ method: 'POST', url: '/v1/session/refresh', payload: { refreshToken: issued.refreshToken } })
    ).json();
    keep(refreshed);
    f.clock.advance(60_000);
    await f.app.inject({ method: 'POST', url: '/v1/session/refresh', payload: { refreshToken: issued.refreshToken } }); // reuse
    await f.app.inject({
      method: 'POST',
      url: '/v1/sessions/introspect',
      headers: bearer(key),
      payload: { token: refreshed.token },
    });

    // Cookie mode.
    const { nonce } = (await f.app.inject({ method: 'POST', url: '/v1/auth/nonce' })).json();
    const message = siweMessage(WALLETS[1]!.address, nonce, f.clock);
    const signature = await WALLETS[1]!.signMessage({ message });
    secrets.push(signature);
    const cookieSignIn = await f.app.inject({
      method: 'POST',
      url: '/v1/auth/siwe',
      headers: { origin: APP_ORIGIN },
      payload: { message, signature, mode: 'cookie' },
    });
    const cookies = cookieSignIn.cookies as { name: string; value: string }[];
    secrets.push(...cookies.map((c) => c.value));
    const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    await f.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie } });
    await f.app.inject({ method: 'DELETE', url: '/v1/session', headers: { cookie } }); // CSRF refusal
    await f.app.inject({ method: 'DELETE', url: '/v1/session', headers: { cookie, origin: APP_ORIGIN } });

    // Secrets where they do not belong: a broken JSON body quoting one, the URL, the wrong route.
    await f.app.inject({
      method: 'POST',
      url: '/v1/session/refresh',
      headers: { 'content-type': 'application/json' },
      payload: `{"refreshToken": "${refreshed.refreshToken}`,
    });
    await f.app.inject({ method: 'GET', url: `/healthz?token=${refreshed.token}&key=${encodeURIComponent(key)}` });
    await f.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(key) });
    await f.app.inject({ method: 'POST', url: '/v1/auth/siwe', payload: { message: 'not a message', signature } });
    f.app.log.info({ body: { token: refreshed.token, nested: { refreshToken: refreshed.refreshToken } } }, 'a careless line');
    f.app.log.info({ req: { headers: { authorization: `Bearer ${refreshed.token}`, cookie } } }, 'another');

    const text = logs.text();
    expect(logs.lines().length).toBeGreaterThan(30);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).toContain('[Redacted]');
    const requestLines = logs.lines().filter((l) => l.msg === 'incoming request');
    expect(requestLines.length).toBe(15);
    for (const line of requestLines) expect(line.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestLines.some((l) => (l.req as { url: string }).url === '/healthz?token=[Redacted]&key=[Redacted]')).toBe(true);
    await f.app.close();
  });

  it("take the caller's X-Request-Id when it is a plain short token, and echo it", async () => {
    const logs = captureLogs();
    const f = await startFixture({ logger: logs.logger });
    const given = await f.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'trace-123.abc' } });
    expect(given.headers['x-request-id']).toBe('trace-123.abc');
    expect(logs.lines().filter((l) => l.requestId === 'trace-123.abc').length).toBeGreaterThanOrEqual(2);
    const odd = await f.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'has spaces {and} "quotes"' } });
    expect(odd.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('the engine logger', () => {
  it('goes through the same redaction as the server logger', () => {
    const logs = captureLogs();
    const engine = engineLogger(serverLogger(logs.logger));
    engine.warn('refresh token reused', { token: 'lks_secret-session-token', details: { refreshToken: 'lkr_secret' } });
    engine.error('store failed', { authorization: 'Bearer lks_other-secret' });
    const text = logs.text();
    for (const secret of ['lks_secret-session-token', 'lkr_secret', 'lks_other-secret']) expect(text).not.toContain(secret);
    expect(logs.lines().map((l) => [l.component, l.msg])).toEqual([
      ['engine', 'refresh token reused'],
      ['engine', 'store failed'],
    ]);
  });
});
