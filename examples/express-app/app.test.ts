import { createServer } from 'node:http';
import { WalletAuthenticator } from '@latchkey/express';
import { describeGuardedApi, type Reply, type StartGuardedApi } from '../test-support/guarded-api.js';
import { describeSignedRequests } from '../test-support/signed-requests.js';
import { closeServer, listen } from '../test-support/world.js';
import { createApp } from './app.js';

// Express has no in-process injection: each app gets a real listener on 127.0.0.1.
const start: StartGuardedApi = async ({ latchkey, latchkeyUrl }) => {
  const authenticator = new WalletAuthenticator(latchkey);
  const server = createServer(createApp({ latchkey: authenticator, latchkeyUrl }));
  const base = await listen(server);
  return {
    async request(method, path, options = {}): Promise<Reply> {
      const headers: Record<string, string> = {};
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
      if (options.authorization !== undefined) headers.authorization = options.authorization;
      if (options.cookie !== undefined) headers.cookie = options.cookie;
      if (options.origin !== undefined) headers.origin = options.origin;
      if (options.body !== undefined || options.rawBody !== undefined) headers['content-type'] = 'application/json';
      Object.assign(headers, options.headers);
      const response = await fetch(`${base}${path}`, {
        method,
        headers,
        body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
      });
      const text = await response.text();
      return {
        status: response.status,
        headers: Object.fromEntries(response.headers),
        // Express's own 404 is an HTML page.
        body: !text ? null : response.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as unknown) : text,
      };
    },
    forget: (token) => authenticator.forget(token),
    close: () => closeServer(server),
  };
};

describeGuardedApi('Express', start);
describeSignedRequests('Express', start);
