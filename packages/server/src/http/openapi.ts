import { ERROR_CODES, type ErrorCode } from '@latchkey/core';
import { z } from 'zod';
import { BODY_LIMIT_BYTES } from './options.js';
import { type RouteSpec, routeErrors } from './route.js';

type JsonSchema = Record<string, unknown>;

interface OpenApiOperation {
  operationId: string;
  tags: string[];
  summary: string;
  description: string;
  security: Record<string, string[]>[];
  parameters?: JsonSchema[];
  requestBody?: JsonSchema;
  responses: Record<string, JsonSchema>;
}

/** The parts of an OpenAPI 3.1 document this server produces. */
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  tags: { name: string; description: string }[];
  components: { securitySchemes: Record<string, JsonSchema> };
  paths: Record<string, Record<string, OpenApiOperation>>;
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** The error body with `code` limited to the codes a route answers with one status. */
function errorSchema(codes: readonly ErrorCode[]): JsonSchema {
  return {
    type: 'object',
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        additionalProperties: false,
        properties: {
          code: { type: 'string', enum: [...codes] },
          message: { type: 'string' },
          field: { type: 'string', description: 'The input field at fault, for validation errors.' },
          ...(codes.includes('SESSION_KEY_EXPIRED')
            ? {
                expiresAt: {
                  type: 'integer',
                  description: 'SESSION_KEY_EXPIRED only: when the key expired (ms since the epoch).',
                },
              }
            : {}),
        },
      },
    },
  };
}

const CHALLENGE_HEADER = {
  'WWW-Authenticate': {
    description:
      'RFC 6750 challenge: `Bearer realm="latchkey"`, with `error="invalid_token"` (401) or `error="invalid_request"` (400); ' +
      'on session routes also `error="session_key_expired"` (SESSION_KEY_EXPIRED) and `error="signature_required"`.',
    schema: { type: 'string' },
  },
};

const STAMP_PARAMETER = {
  name: 'Latchkey-Signature',
  in: 'header',
  required: false,
  description:
    'A stamp by a session key of the same session (docs/stamps.md): `v=1, keyId=…, ts=…, nonce=…, sig=…`, signing the ' +
    "method, the path and query as sent, the body bytes' SHA-256, the time and a nonce. Verified whenever sent; required " +
    "on this route when the app's `sessionKeys.requireStamps` is on, unless the description says otherwise.",
  schema: { type: 'string', maxLength: 512 },
};

function parameters(route: RouteSpec): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const [where, schema] of [
    ['path', route.params],
    ['query', route.query],
  ] as const) {
    if (!schema) continue;
    const object = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, property] of Object.entries(object.properties ?? {})) {
      const { description, ...propertySchema } = property;
      out.push({
        name,
        in: where,
        required: where === 'path' || (object.required ?? []).includes(name),
        ...(typeof description === 'string' ? { description } : {}),
        schema: propertySchema,
      });
    }
  }
  if (route.app === 'header' || route.app === 'header-or-query' || route.access === 'api-key') {
    out.push({
      name: 'Latchkey-App',
      in: 'header',
      required: false,
      description:
        route.access === 'api-key'
          ? "Optional: when sent, it must name the API key's app (403 API_KEY_APP_MISMATCH otherwise)."
          : 'The app the request is for. Default `default`.',
      schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' },
    });
  }
  if (route.access === 'session') out.push(STAMP_PARAMETER);
  return out;
}

function responses(route: RouteSpec): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const success of route.success) {
    const headers = success.setsCookies
      ? {
          'Set-Cookie': {
            description: 'Cookie mode only: the session and refresh cookies, set or cleared.',
            schema: { type: 'string' },
          },
        }
      : undefined;
    out[String(success.status)] = {
      description: success.description,
      ...(headers ? { headers } : {}),
      ...(success.schema
        ? { content: { [success.contentType ?? 'application/json']: { schema: jsonSchema(success.schema, 'output') } } }
        : {}),
    };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of routeErrors(route)) {
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const headers: JsonSchema = {};
    if ((status === 401 || status === 400) && route.access !== 'public') Object.assign(headers, CHALLENGE_HEADER);
    if (status === 429) headers['Retry-After'] = { description: 'Seconds until the window resets.', schema: { type: 'string' } };
    if (status === 401 && route.access === 'public' && route.success.some((s) => s.setsCookies)) {
      headers['Set-Cookie'] = {
        description: 'Cookie mode: a refresh that failed for good clears the cookies.',
        schema: { type: 'string' },
      };
    }
    out[String(status)] = {
      description: codes.map((c) => `\`${c}\`: ${ERROR_CODES[c].message}`).join('\n\n'),
      ...(Object.keys(headers).length > 0 ? { headers } : {}),
      content: { 'application/json': { schema: errorSchema(codes) } },
    };
  }
  return out;
}

const SECURITY: Record<RouteSpec['access'], Record<string, string[]>[]> = {
  public: [],
  session: [{ sessionToken: [] }, { sessionCookie: [] }],
  'api-key': [{ apiKey: [] }],
};

const DESCRIPTION = [
  'Latchkey: wallet sign-in (SIWE, SIWS) and the session lifecycle over HTTP.',
  '',
  'Errors are `{"error":{"code":"…","message":"…"}}` (plus `field` for validation errors) with the status of the code in the',
  'error registry (docs/errors.md). Any path answers 404 ROUTE_NOT_FOUND when no route has it and 405 METHOD_NOT_ALLOWED',
  '(with `Allow`) when it exists for other methods. Bodies are JSON only (415 otherwise), at most',
  `${BODY_LIMIT_BYTES / 1024} KiB (413), and parsed strictly: unknown fields and query parameters are 400 VALIDATION_FAILED.`,
  '',
  'Sessions travel as `Authorization: Bearer lks_…` (bearer mode) or in HttpOnly cookies (cookie mode, chosen at sign-in),',
  "never in the URL. A state-changing request authenticated by cookie must carry `Origin` equal to the app's sign-in origin,",
  'or `Sec-Fetch-Site: same-origin`; otherwise 403 CSRF_REJECTED. Operator routes take an app API key (`Bearer lka_…`).',
  '',
  'A session-authenticated request may also carry a stamp (`Latchkey-Signature`) by one of its session keys; it is verified',
  "whenever present, and required on every session route (but for the documented exemptions) when the app's",
  '`sessionKeys.requireStamps` is on. SESSION_KEY_EXPIRED answers carry `expiresAt` beside `code` and `message`.',
].join('\n');

/** The OpenAPI 3.1 document of the given routes: paths, parameters, bodies, every success and error answer. */
export function buildOpenApiDocument(routes: readonly RouteSpec[]): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const operation: OpenApiOperation = {
      operationId: route.operationId,
      tags: [route.tag],
      summary: route.summary,
      description: route.description,
      security: SECURITY[route.access],
      responses: responses(route),
    };
    const params = parameters(route);
    if (params.length > 0) operation.parameters = params;
    if (route.body) {
      operation.requestBody = {
        required: !route.body.safeParse(undefined).success,
        content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
      };
    }
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Latchkey HTTP API', version: '1.0.0', description: DESCRIPTION },
    tags: [
      { name: 'sign-in', description: 'Nonces, wallet sign-in and refresh. Rate limited per IP and per wallet.' },
      { name: 'session', description: "The caller's own sessions." },
      {
        name: 'session-keys',
        description:
          'Device-bound P-256 session keys: credential bundles, registration, listing, revocation. Stamps: docs/stamps.md.',
      },
      { name: 'operator', description: 'Introspection and admin views, with an app API key.' },
      { name: 'service', description: 'Keys, this document, health and metrics.' },
    ],
    components: {
      securitySchemes: {
        sessionToken: { type: 'http', scheme: 'bearer', bearerFormat: 'lks_<id>.<secret>', description: 'A session token.' },
        sessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: '__Host-latchkey-session-<app>',
          description: 'Cookie mode. Named `latchkey-session-<app>` (no prefix, not Secure) on http://localhost.',
        },
        apiKey: { type: 'http', scheme: 'bearer', bearerFormat: 'lka_<id>.<secret>', description: 'An app API key.' },
      },
    },
    paths,
  };
}
