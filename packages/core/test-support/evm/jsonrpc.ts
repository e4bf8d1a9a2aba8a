import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isRecord } from './artifacts.js';

/** EIP-1193 request arguments. */
export interface RequestArguments {
  readonly method: string;
  readonly params?: readonly unknown[] | Readonly<Record<string, unknown>>;
}

/** An EIP-1193 `request` function. Errors it throws should be {@link JsonRpcError}s. */
export type RequestFunction = (args: RequestArguments) => Promise<unknown>;

/** A JSON-RPC error, thrown by `request` (EIP-1193 style) and serialized as-is over HTTP. */
export class JsonRpcError extends Error {
  readonly code: number;
  readonly data: unknown;

  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = 'JsonRpcError';
    this.code = code;
    this.data = data;
  }
}

export interface JsonRpcHttpServer {
  /** `http://127.0.0.1:<ephemeral port>` */
  readonly url: string;
  close(): Promise<void>;
}

type Id = string | number | null;
type Response = { jsonrpc: '2.0'; id: Id } & ({ result: unknown } | { error: { code: number; message: string; data?: unknown } });

const maxBodyBytes = 8 * 1024 * 1024;

/** Serves `request` as JSON-RPC 2.0 over HTTP POST (single and batch) on 127.0.0.1. */
export async function serveJsonRpc(request: RequestFunction): Promise<JsonRpcHttpServer> {
  const server = createServer((req, res) => {
    handle(request, req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('serveJsonRpc: not listening on a TCP port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function handle(request: RequestFunction, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') {
    res.setHeader('Allow', 'POST');
    return send(res, 405, failure(null, -32600, 'Invalid Request: use POST'));
  }
  const body = await readBody(req);
  if (body === undefined) return send(res, 413, failure(null, -32600, 'Invalid Request: body too large'));

  let message: unknown;
  try {
    message = JSON.parse(body);
  } catch {
    return send(res, 200, failure(null, -32700, 'Parse error'));
  }
  if (!Array.isArray(message)) {
    const response = await answer(request, message);
    return response === undefined ? send(res, 204) : send(res, 200, response);
  }
  if (message.length === 0) return send(res, 200, failure(null, -32600, 'Invalid Request: empty batch'));
  const responses = (await Promise.all(message.map((item) => answer(request, item)))).filter((r) => r !== undefined);
  return responses.length === 0 ? send(res, 204) : send(res, 200, responses);
}

/** One request object to its response; `undefined` for a notification (no `id`). */
async function answer(request: RequestFunction, message: unknown): Promise<Response | undefined> {
  if (!isRecord(message)) return failure(null, -32600, 'Invalid Request');
  const { id = null, method, params } = message;
  if (typeof id !== 'string' && typeof id !== 'number' && id !== null) return failure(null, -32600, 'Invalid Request: bad id');
  if (message.jsonrpc !== '2.0' || typeof method !== 'string') return failure(id, -32600, 'Invalid Request');
  if (params !== undefined && !Array.isArray(params) && !isRecord(params)) {
    return failure(id, -32602, 'Invalid params: must be an array or an object');
  }
  const isNotification = !('id' in message);
  try {
    const result = await request(params === undefined ? { method } : { method, params });
    return isNotification ? undefined : { jsonrpc: '2.0', id, result: result ?? null };
  } catch (error) {
    if (isNotification) return undefined;
    if (error instanceof JsonRpcError) return failure(id, error.code, error.message, error.data);
    return failure(id, -32603, error instanceof Error ? error.message : 'Internal error');
  }
}

function failure(id: Id, code: number, message: string, data?: unknown): Response {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > maxBodyBytes) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
