/**
 * Requests per second of a Fastify route guarded by a JWT access token: Latchkey's verifier beside
 * jose's jwtVerify per request (with a JWKS set, and with a key imported once), for EdDSA and ES256,
 * plus an opaque-token route on Redis and a raw Redis GET route, all in one run. The server runs in
 * a child process; autocannon drives it from this one. Bounded: LATCHKEY_BENCH_SECONDS per route.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const SECONDS = Number(process.env.LATCHKEY_BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.LATCHKEY_BENCH_CONNECTIONS ?? 32);

const server = spawn(process.execPath, ['--import', 'tsx', new URL('./jwt-server.ts', import.meta.url).pathname], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const [line] = (await once(createInterface({ input: server.stdout! }), 'line')) as [string];
const { port, ed, es, opaque } = JSON.parse(line) as { port: number; ed: string; es: string; opaque: string };

const routes: [string, string, string | null][] = [
  ['/none', 'no auth (framework ceiling)', null],
  ['/redis/get', 'raw ioredis GET per request', null],
  ['/latchkey/session-redis', 'latchkey validateSession, opaque token on Redis', opaque],
  ['/jose/eddsa', 'jose jwtVerify + local JWKS set, EdDSA', ed],
  ['/jose-key/eddsa', 'jose jwtVerify + key imported once, EdDSA', ed],
  ['/latchkey-uncached/eddsa', 'latchkey signature check every request, EdDSA', ed],
  ['/latchkey/eddsa', 'latchkey verifyAccessToken, EdDSA', ed],
  ['/jose/es256', 'jose jwtVerify + local JWKS set, ES256', es],
  ['/jose-key/es256', 'jose jwtVerify + key imported once, ES256', es],
  ['/latchkey/es256', 'latchkey verifyAccessToken, ES256', es],
];

console.log(`JWT-guarded route bench: Fastify in a child process, autocannon ${CONNECTIONS} connections, ${SECONDS}s per route`);
console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, node ${process.version}\n`);
const results = new Map<string, number>();
try {
  for (const [path, label, token] of routes) {
    const result = await autocannon({
      url: `http://127.0.0.1:${port}${path}`,
      connections: CONNECTIONS,
      duration: SECONDS,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    if (result.non2xx > 0 || result.errors > 0)
      throw new Error(`${path}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
    results.set(path, result.requests.average);
    console.log(
      `${label.padEnd(52)} ${Math.round(result.requests.average).toLocaleString('en-US').padStart(8)} req/s  p50 ${result.latency.p50} ms  p99 ${result.latency.p99} ms`,
    );
  }
  const ratio = (a: string, b: string): string => `${(results.get(a)! / results.get(b)!).toFixed(2)}x`;
  console.log(
    `\nlatchkey vs jose (JWKS set), EdDSA: ${ratio('/latchkey/eddsa', '/jose/eddsa')}; ES256: ${ratio('/latchkey/es256', '/jose/es256')}`,
  );
  console.log(`latchkey EdDSA, signature every request, vs jose (JWKS set): ${ratio('/latchkey-uncached/eddsa', '/jose/eddsa')}`);
  console.log(`latchkey EdDSA JWT vs raw Redis GET route: ${ratio('/latchkey/eddsa', '/redis/get')}`);
} finally {
  server.kill('SIGTERM');
  await once(server, 'exit');
}
