import { z } from 'zod';
import { defineRoute, type RouteSpec } from '../route.js';
import { auditSchema, auditVerifySchema, operatorSessionsSchema, revokedSchema, statsSchema } from '../schemas.js';

const KEY_AUTH = "Needs an API key of the app (`Authorization: Bearer lka_…`); the app is the key's.";

const account = z.string().min(1).max(200).describe('CAIP-10 account, e.g. eip155:1:0xAb…');
const wholeNumber = z
  .string()
  .regex(/^\d{1,15}$/, 'a whole number')
  .transform(Number);

const walletSessions = defineRoute({
  method: 'GET',
  path: '/v1/admin/sessions',
  operationId: 'adminListWalletSessions',
  tag: 'operator',
  summary: "A wallet's live sessions",
  description: KEY_AUTH,
  access: 'api-key',
  app: 'api-key',
  query: z.object({ wallet: account }).strict(),
  success: [{ status: 200, description: "The wallet's live sessions, oldest first.", schema: operatorSessionsSchema }],
  errors: ['VALIDATION_ACCOUNT_INVALID'],
  async handle({ query, appId, services }) {
    return { sessions: await services.latchkey.getWalletSessions(query.wallet, { appId }) };
  },
});

const revokeWallet = defineRoute({
  method: 'DELETE',
  path: '/v1/admin/wallets/{account}/sessions',
  operationId: 'adminRevokeWalletSessions',
  tag: 'operator',
  summary: 'Revoke every session of a wallet',
  description: `Atomic in the store; audited as wallet_sessions_revoked. ${KEY_AUTH}`,
  access: 'api-key',
  app: 'api-key',
  params: z.object({ account }).strict(),
  success: [{ status: 200, description: 'How many live sessions were revoked.', schema: revokedSchema }],
  errors: ['VALIDATION_ACCOUNT_INVALID'],
  async handle({ params, appId, services }) {
    return services.latchkey.invalidateAllWalletSessions(params.account, { appId });
  },
});

const stats = defineRoute({
  method: 'GET',
  path: '/v1/admin/stats',
  operationId: 'adminStats',
  tag: 'operator',
  summary: 'Live sessions and lifecycle counters',
  description: KEY_AUTH,
  access: 'api-key',
  app: 'api-key',
  success: [{ status: 200, description: "Live sessions by chain and auth method, and the app's counters.", schema: statsSchema }],
  errors: [],
  async handle({ appId, services }) {
    return services.latchkey.getSessionStats({ appId });
  },
});

const audit = defineRoute({
  method: 'GET',
  path: '/v1/admin/audit',
  operationId: 'adminQueryAudit',
  tag: 'operator',
  summary: 'Audit entries, by wallet and time',
  description: `Entries in chain order. Page with \`afterSeq\` (the last \`seq\` seen). ${KEY_AUTH}`,
  access: 'api-key',
  app: 'api-key',
  query: z
    .object({
      wallet: account.optional(),
      since: wholeNumber.optional().describe('inclusive lower bound on `at`, ms since the epoch'),
      until: wholeNumber.optional().describe('exclusive upper bound on `at`, ms since the epoch'),
      limit: wholeNumber
        .refine((n) => n >= 1 && n <= 1000, 'between 1 and 1000')
        .optional()
        .describe('default 100, at most 1000'),
      afterSeq: wholeNumber.optional().describe('only entries after this seq'),
    })
    .strict(),
  success: [{ status: 200, description: 'The matching entries.', schema: auditSchema }],
  errors: ['VALIDATION_ACCOUNT_INVALID'],
  async handle({ query, appId, services }) {
    const entries = await services.latchkey.queryAudit({
      appId,
      ...(query.wallet === undefined ? {} : { account: query.wallet }),
      ...(query.since === undefined ? {} : { since: query.since }),
      ...(query.until === undefined ? {} : { until: query.until }),
      ...(query.limit === undefined ? {} : { limit: query.limit }),
      ...(query.afterSeq === undefined ? {} : { afterSeq: query.afterSeq }),
    });
    return { entries };
  },
});

const verifyAudit = defineRoute({
  method: 'POST',
  path: '/v1/admin/audit/verify',
  operationId: 'adminVerifyAudit',
  tag: 'operator',
  summary: 'Check the audit hash chain',
  description: `Walks the app's chain and reports the first edited, deleted or re-linked entry. ${KEY_AUTH}`,
  access: 'api-key',
  app: 'api-key',
  success: [{ status: 200, description: 'Whether the chain is intact, and where it breaks.', schema: auditVerifySchema }],
  errors: [],
  async handle({ appId, services }) {
    return services.latchkey.verifyAudit({ appId });
  },
});

export const operatorRoutes: readonly RouteSpec[] = [walletSessions, revokeWallet, stats, audit, verifyAudit];
