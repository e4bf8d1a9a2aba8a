import { describeGuardedApi, type Reply, type StartGuardedApi } from '../test-support/guarded-api.js';
import { describeSignedRequests } from '../test-support/signed-requests.js';
import { createApp } from './app.js';

// Fastify's inject runs each request in process, no socket needed.
const start: StartGuardedApi = async (options) => {
  const app = await createApp(options);
  await app.ready();
  return {
    async request(method, path, options = {}): Promise<Reply> {
      const headers: Record<string, string> = {};
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
      if (options.authorization !== undefined) headers.authorization = options.authorization;
      if (options.cookie !== undefined) headers.cookie = options.cookie;
      if (options.origin !== undefined) headers.origin = options.origin;
      if (options.rawBody !== undefined) headers['content-type'] = 'application/json';
      Object.assign(headers, options.headers);
      const response = await app.inject({
        method,
        url: path,
        headers,
        ...(options.body === undefined ? {} : { payload: options.body as object }),
        ...(options.rawBody === undefined ? {} : { payload: options.rawBody }),
      });
      return {
        status: response.statusCode,
        headers: Object.fromEntries(
          Object.entries(response.headers).map(([k, v]) => [k, v === undefined ? undefined : String(v)]),
        ),
        body: response.body ? (JSON.parse(response.body) as unknown) : null,
      };
    },
    forget: (token) => app.latchkey.forget(token),
    close: () => app.close(),
  };
};

describeGuardedApi('Fastify', start);
describeSignedRequests('Fastify', start);
