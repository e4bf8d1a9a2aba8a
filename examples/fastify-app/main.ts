// A runnable demo: `npm run build && node --import tsx examples/fastify-app/main.ts`
// The engine runs in this process on an in-memory store; two demo sessions are printed as curl lines.
import { Latchkey, MemoryStore } from '@latchkey/core';
import { createApp } from './app.js';

const engine = new Latchkey({
  store: new MemoryStore(),
  defaults: { roles: { member: ['read:profile', 'write:profile'] }, defaultRoles: ['member'] },
});
const account = 'eip155:1:0xd8da6bf26964af9d7eed9e03e53415d37aa96045';
const readWrite = await engine.createSession({ account, authMethod: 'siwe' });
const readOnly = await engine.createSession({ account, authMethod: 'siwe', scope: 'read-only' });

const port = Number(process.env.PORT ?? 3002);
const app = await createApp({ latchkey: { engine } });
const url = await app.listen({ host: '127.0.0.1', port });
console.log(`example API on ${url}`);
console.log(`curl ${url}/public`);
console.log(`curl -i ${url}/me`);
console.log(`curl -H 'Authorization: Bearer ${readWrite.token}' ${url}/me`);
console.log(`curl -i -X PUT -H 'Authorization: Bearer ${readOnly.token}' ${url}/profile   # 403, read-only`);
