import { sessionIdTag, walletTag } from '@latchkey/core';

/**
 * Every key the store touches, in one place (the README's key table mirrors this file).
 *
 * A wallet's keys share the Cluster hash tag `{<appId>:<walletTag>}`, and a session id starts with
 * that wallet tag, so a script given only (appId, id) still lands in the wallet's slot. App-wide
 * keys use `{<appId>:app}` and the audit chain `{<appId>:audit}`; neither `app` nor `audit` is
 * eight hex digits, so they never share a slot name with a wallet.
 */
export class KeyLayout {
  readonly #prefix: string;

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  #tag(appId: string, suffix: string): string {
    // A brace in appId would end the hash tag early and let two apps' key names meet.
    if (/[{}]/.test(appId)) throw new TypeError('RedisStore: appId must not contain { or }');
    return `${this.#prefix}{${appId}:${suffix}}`;
  }

  /** HASH: one session. Slot: the wallet's. */
  session(appId: string, id: string): string {
    return `${this.#tag(appId, sessionIdTag(id))}:s:${id}`;
  }

  /** ZSET: the wallet's session ids, score createdAt. Slot: the wallet's. */
  wallet(appId: string, subject: string): string {
    return `${this.#tag(appId, walletTag(appId, subject))}:w:${subject}`;
  }

  /** SET: every appId that ever created a session under this prefix (for cleanup). */
  apps(): string {
    return `${this.#prefix}apps`;
  }

  /** ZSET: the app's sessions, member `["<id>","<subject>"]`, score a lower bound of the expiry. */
  appSessions(appId: string): string {
    return `${this.#tag(appId, 'app')}:x`;
  }

  /** HASH: the app's stats counters. */
  counters(appId: string): string {
    return `${this.#tag(appId, 'app')}:c`;
  }

  /** HASH: the audit chain's head (`seq`, `hash`). */
  auditHead(appId: string): string {
    return `${this.#tag(appId, 'audit')}:h`;
  }

  /** HASH: audit entries, field seq, value the entry as JSON. */
  auditEntries(appId: string): string {
    return `${this.#tag(appId, 'audit')}:e`;
  }

  /** ZSET: seqs of the audit entries about one subject (score and member both the seq). */
  auditSubject(appId: string, subject: string): string {
    return `${this.#tag(appId, 'audit')}:u:${subject}`;
  }
}

/** The app-index member for a session: id and subject, so cleanup can name the wallet key. */
export function appSessionMember(id: string, subject: string): string {
  return JSON.stringify([id, subject]);
}

export function parseAppSessionMember(member: string): { id: string; subject: string } | null {
  try {
    const v: unknown = JSON.parse(member);
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string')
      return { id: v[0], subject: v[1] };
  } catch {
    // fall through: a foreign member is skipped, never fatal
  }
  return null;
}
