import { type AppSettingsInput, LatchkeyError, type SessionDataCipher } from '@latchkey/core';

/** Apps created at run time live as entries of this pseudo-app (not a valid app id, so never a tenant). */
export const SYSTEM_APP_ID = '_system';
/** Entry key = app id, value = `sealAppSettings` of its settings. */
export const APPS_NAMESPACE = 'apps';

/** Settings fields that hold a secret: sealed in the store, never printed. */
const SECRET_FIELDS: readonly (readonly [string, string])[] = [['accessTokens', 'secret']];

/** The AAD binds a sealed secret to its app and field: copied to another app's entry, it does not open. */
const aadFor = (appId: string, field: string): string => `latchkey/app-settings/v1|${appId}|${field}`;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function configInvalid(message: string): LatchkeyError {
  return new LatchkeyError('CONFIG_INVALID', { message });
}

/** A deep copy through JSON, which is what the store keeps anyway. */
function copy(settings: AppSettingsInput): Json {
  return JSON.parse(JSON.stringify(settings)) as Json;
}

/**
 * The store entry's value for an app's settings: their JSON, with every secret (an HS256
 * `accessTokens.secret`) replaced by `{ "sealed": "v1.<key id>.<AES-256-GCM>" }`, sealed with the data
 * keys and bound to the app id. Without a cipher a secret is refused, never written in plain text.
 */
export function sealAppSettings(cipher: SessionDataCipher | null, appId: string, settings: AppSettingsInput): string {
  const out = copy(settings);
  for (const [section, field] of SECRET_FIELDS) {
    const holder = out[section];
    if (!isObject(holder) || holder[field] === undefined) continue;
    if (!cipher) throw configInvalid(`${section}.${field}: a secret is stored sealed with the data keys, and none were given`);
    holder[field] = { sealed: cipher.sealWith(aadFor(appId, `${section}.${field}`), holder[field]) };
  }
  return JSON.stringify(out);
}

/**
 * An app's settings from its store entry, secrets opened. CONFIG_INVALID names the field and never a
 * value: for text that is not a JSON object, a sealed secret without data keys, or one that does not open
 * (other keys, or sealed for another app). A secret stored in plain text (written before secrets were
 * sealed) is taken as it is.
 */
export function openAppSettings(cipher: SessionDataCipher | null, appId: string, value: string): AppSettingsInput {
  let settings: unknown;
  try {
    settings = JSON.parse(value);
  } catch {
    // JSON.parse's message quotes the text; say only what is wrong.
    throw configInvalid('settings are not valid JSON');
  }
  if (!isObject(settings)) throw configInvalid('settings are not a JSON object');
  for (const [section, field] of SECRET_FIELDS) {
    const holder = settings[section];
    const secret = isObject(holder) ? holder[field] : undefined;
    if (!isObject(secret)) continue;
    const name = `${section}.${field}`;
    if (typeof secret.sealed !== 'string') throw configInvalid(`${name}: not a secret`);
    if (!cipher) throw configInvalid(`${name}: sealed with the data keys; pass the engine's dataKeys to open it`);
    let opened: unknown;
    try {
      opened = cipher.openWith(aadFor(appId, name), secret.sealed);
    } catch {
      throw configInvalid(`${name}: does not open with these data keys for this app`);
    }
    (holder as Json)[field] = opened;
  }
  return settings as AppSettingsInput;
}

/** Settings fit to print: every secret present shows as `[Redacted]`. */
export function redactAppSettings(settings: AppSettingsInput): AppSettingsInput {
  const out = copy(settings);
  for (const [section, field] of SECRET_FIELDS) {
    const holder = out[section];
    if (isObject(holder) && holder[field] !== undefined) holder[field] = '[Redacted]';
  }
  return out as AppSettingsInput;
}
