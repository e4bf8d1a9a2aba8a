import { Redis } from 'ioredis';

/**
 * Whether a Redis answers PING at `url` within about a second: one short-lived connection that
 * neither retries nor queues. For readiness checks and for test suites that must know (and, in CI,
 * fail rather than skip) when Redis is missing.
 */
export async function redisAnswers(url = 'redis://127.0.0.1:6379'): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, connectTimeout: 1000, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}
