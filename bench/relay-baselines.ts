/**
 * The forwarders the Latchkey relay is measured against, each run alone in a child process by
 * bench/relay.bench.ts. Prints one JSON line `{"port":N}` once listening, then serves until SIGTERM.
 *
 *   node --import tsx bench/relay-baselines.ts --target ws
 *   node --import tsx bench/relay-baselines.ts --target socketio [--redis-key KEY]
 *
 * - `ws`: a raw WebSocket forwarder (ws 8): a connection's first message `{"uuid","role"}` pairs it with the
 *   other role of that uuid; every later frame goes to the partner untouched.
 * - `socketio`: the origin document 004's backend: `join(uuid)` puts the socket in the room, and each of
 *   connected_uuid, request and response is sent on with `socket.to(data.uuid).emit(event, data)`. With
 *   `--redis-key`, rooms are shared through @socket.io/redis-adapter on 127.0.0.1:6379 under that key.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { type WebSocket, WebSocketServer } from 'ws';

const { values } = parseArgs({ options: { target: { type: 'string' }, 'redis-key': { type: 'string' } } });
const http = createServer();

if (values.target === 'ws') {
  const waiting = new Map<string, WebSocket>();
  const wss = new WebSocketServer({ server: http, maxPayload: 1 << 20 });
  wss.on('connection', (socket) => {
    let partner: WebSocket | null = null;
    socket.once('message', (first) => {
      const { uuid } = JSON.parse(String(first)) as { uuid: string };
      const other = waiting.get(uuid);
      if (other) {
        waiting.delete(uuid);
        partner = other;
        other.emit('paired', socket);
        socket.send('{"paired":true}');
        other.send('{"paired":true}');
      } else {
        waiting.set(uuid, socket);
        socket.once('paired', (p: WebSocket) => {
          partner = p;
        });
      }
      socket.on('message', (data, isBinary) => partner?.send(data, { binary: isBinary }));
    });
  });
} else if (values.target === 'socketio') {
  const key = values['redis-key'];
  let adapter: ReturnType<typeof createAdapter> | undefined;
  if (key) {
    const pub = new Redis('redis://127.0.0.1:6379');
    const sub = pub.duplicate();
    adapter = createAdapter(pub, sub, { key });
  }
  const io = new Server(http, { serveClient: false, ...(adapter ? { adapter } : {}) });
  io.on('connection', (socket) => {
    socket.on('join', (uuid: string, ack?: () => void) => {
      void socket.join(uuid);
      ack?.();
    });
    for (const event of ['connected_uuid', 'request', 'response']) {
      socket.on(event, (data: { uuid: string }) => {
        socket.to(data.uuid).emit(event, data);
      });
    }
  });
} else {
  console.error('--target ws | socketio');
  process.exit(2);
}

http.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (http.address() as AddressInfo).port })}\n`);
});
process.once('SIGTERM', () => process.exit(0));
