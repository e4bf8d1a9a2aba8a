import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger as EngineLogger } from '@latchkey/core';
import { type Logger, pino } from 'pino';

/** Fields whose values are secrets wherever they appear in a log object (up to four levels deep). */
const SECRET_FIELDS = ['token', 'refreshToken', 'accessToken', 'signature', 'key', 'authorization', 'cookie', 'set-cookie'];
const SECRET_QUERY = /^(token|refresh_?token|access_?token|signature|key|api_?key)$/i;

export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  // fast-redact: `*.x` is x one level down; a bracketed name binds to the wildcard before it (`*["x"]` is x at the top).
  ...SECRET_FIELDS.flatMap((f) =>
    /^[A-Za-z_$][\w$]*$/.test(f)
      ? [f, `*.${f}`, `*.*.${f}`, `*.*.*.${f}`]
      : [`*["${f}"]`, `*.*["${f}"]`, `*.*.*["${f}"]`, `*.*.*.*["${f}"]`],
  ),
];

/** The request as a log line shows it: no headers, and the values of secret-looking query parameters masked. */
function requestSerializer(req: { method?: string; url?: string; hostname?: string; ip?: string; socket?: unknown }): object {
  return { method: req.method, url: maskQuery(req.url ?? ''), host: req.hostname, remoteAddress: req.ip };
}

function maskQuery(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const masked = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      return eq >= 0 && SECRET_QUERY.test(decodeSafely(name)) ? `${name}=[Redacted]` : pair;
    })
    .join('&');
  return `${url.slice(0, q)}?${masked}`;
}

function decodeSafely(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const SERIALIZERS = {
  req: requestSerializer,
  res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
  err: pino.stdSerializers.err,
};

/**
 * The server's logger: the given pino logger (as a child that adds the redaction rules) or pino to
 * stdout at `info`. Authorization, Cookie, Set-Cookie and any field named like a credential are
 * replaced by `[Redacted]`; request lines carry no headers and no bodies.
 */
export function serverLogger(given: Logger | undefined): Logger {
  const redact = { paths: [...REDACT_PATHS], censor: '[Redacted]' };
  if (given) return given.child({}, { redact, serializers: SERIALIZERS });
  return pino({ level: 'info', redact, serializers: SERIALIZERS });
}

/**
 * The engine's logger on top of the server's: pass it `serverLogger(…)`, so what the engine logs goes
 * through the same redaction rules as every request line.
 */
export function engineLogger(serverLog: Logger): EngineLogger {
  const child = serverLog.child({ component: 'engine' });
  return {
    error: (message, context) => child.error(context ?? {}, message),
    warn: (message, context) => child.warn(context ?? {}, message),
    info: (message, context) => child.info(context ?? {}, message),
    debug: (message, context) => child.debug(context ?? {}, message),
  };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A request id: the caller's `X-Request-Id` when it is a short plain token, else a fresh UUID. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}
