import { ENTRY_NAMESPACE_PATTERN, LatchkeyError, sessionIdTag, walletTag } from '@latchkey/core';

/**
 * Every key the store touches, in one place (the README's key table mirrors this file).
 *
 * A wallet's keys share the Cluster hash tag `{<appId>:<walletTag>}`, and a session id starts with
 * that wallet tag, so a script given only (appId, id) still lands in the wallet's slot. App-wide
 * keys use `{<appId>:app}` and the audit chain `{<appId>:audit}`; neither `app` nor `audit` is
 * eight hex digits, so they never share a slot name with a wallet. Each entry namespace has its own
 * tag `{<appId>:e:<namespace>}` (never eight hex digits either: it holds a colon).
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

  /**
   * The tag of an entry namespace. A namespace is a short lowercase word (core's
   * ENTRY_NAMESPACE_PATTERN): a brace in it would move the hash tag, so anything else is a caller bug.
   */
  #entryTag(appId: string, namespace: string): string {
    if (!ENTRY_NAMESPACE_PATTERN.test(namespace)) {
      throw new LatchkeyError('INTERNAL_ERROR', { message: `RedisStore: entry namespace must match ${ENTRY_NAMESPACE_PATTERN}` });
    }
    return this.#tag(appId, `e:${namespace}`);
  }

  /**
   * HASH: one entry, `v` value and `x` expiresAt, with a relative TTL. Slot: the namespace's. The
   * key comes after the tag, and Cluster hashes only the first `{…}`, so braces in it change nothing.
   */
  entry(appId: string, namespace: string, key: string): string {
    return `${this.#entryTag(appId, namespace)}:v:${key}`;
  }

  /** ZSET: the namespace's entry keys, score expiresAt (for listing). Slot: the namespace's. */
  entryIndex(appId: string, namespace: string): string {
    return `${this.#entryTag(appId, namespace)}:i`;
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
