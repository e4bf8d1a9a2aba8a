import { canonicalBytes } from './canonical.js';
import { fromBase64Url, toBase64Url } from './encoding.js';
import { parseP256PublicKey } from './p256.js';
import { type StampSigner, signP256, verifyP256 } from './signer.js';

/**
 * A device's proof that it holds the private half of the key it registers as a session key: it signs
 * the server's single-use challenge together with the key and the scope it asks for.
 */
export interface RegistrationClaims {
  version: 1;
  purpose: 'latchkey-session-key-registration';
  challenge: string;
  /** Hex of the 65-byte uncompressed public key being registered. */
  publicKey: string;
  scope: 'read-only' | 'read-write';
}

const PURPOSE = 'latchkey-session-key-registration';

/** The signed bytes: UTF-8 of the RFC 8785 canonical JSON of exactly the five claims. */
export function registrationPayload(c: RegistrationClaims): Uint8Array {
  const { version, purpose, challenge, publicKey, scope } = c;
  return canonicalBytes({ version, purpose, challenge, publicKey, scope });
}

/**
 * Signs a registration with the key being registered; returns base64url of the 64-byte r||s.
 * @example
 * ```ts
 * const signature = await signRegistration(keyPair.privateKey, { challenge, publicKey: toHex(rawPublicKey), scope: 'read-only' });
 * ```
 */
export async function signRegistration(signer: StampSigner, c: Omit<RegistrationClaims, 'version' | 'purpose'>): Promise<string> {
  const payload = registrationPayload({ version: 1, purpose: PURPOSE, ...c });
  return toBase64Url(await signP256(signer, payload));
}

/**
 * Whether `signature` (base64url r||s) is `c.publicKey`'s signature of `c`. Checks the fixed fields
 * and the key's validity too. Never throws.
 */
export function verifyRegistration(c: RegistrationClaims, signature: string): boolean {
  try {
    if (c.version !== 1 || c.purpose !== PURPOSE || (c.scope !== 'read-only' && c.scope !== 'read-write')) return false;
    if (typeof c.challenge !== 'string' || typeof c.publicKey !== 'string') return false;
    return verifyP256(parseP256PublicKey(c.publicKey), registrationPayload(c), fromBase64Url(signature));
  } catch {
    return false;
  }
}
