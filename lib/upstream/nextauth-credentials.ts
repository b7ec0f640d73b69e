import { UpstreamUnavailableError } from '../errors.ts';
import { log } from '../log.ts';
import { registerSecretValue } from '../redaction.ts';
import { normaliseServerId } from '../schemas/server-id.ts';
import { parseJson } from './client.ts';
import { HEADER_TOKEN, MissingCredentialsError } from './credentials.ts';

/**
 * Reading the nextAuth secret. A nextAuth API key is "for a specific (virtual) server"
 * (docs/upstream/nextauth-sessions.md#api-keys-one-per-virtual-server), so the secret may hold one key
 * per server:
 *
 *   {"servers": {"<server id>": {"apiKey": "...", "su": "..."}, ...}}   one key per server
 *   {"apiKey": "...", "su": "..."}  or  "<key>"                         one key for every server
 *
 * With the per-server form, a server the secret does not list has no key: the call is not made
 * (`MissingCredentialsError`, which the client answers 404), so no server's key is ever sent for
 * another. A value that cannot be sent as a header is refused here (503, logged) rather than
 * thrown by `node:http` as a 500.
 */

export interface Credentials {
  apiKey: string;
  su?: string;
}

function unusable(secretId: string, problem: string): UpstreamUnavailableError {
  log.error('nextauth secret has no usable credentials', { secretId, problem });
  return new UpstreamUnavailableError(503, 'The gateway has no usable nextAuth credentials.');
}

function entryCredentials(entry: unknown, secretId: string, where: string): Credentials {
  const { apiKey, su } = (entry ?? {}) as { apiKey?: unknown; su?: unknown };
  if (typeof apiKey !== 'string' || !HEADER_TOKEN.test(apiKey)) throw unusable(secretId, `${where}apiKey`);
  const noSu = su === undefined || su === null || su === '';
  if (!noSu && (typeof su !== 'string' || !HEADER_TOKEN.test(su))) throw unusable(secretId, `${where}su`);
  registerSecretValue(apiKey);
  if (!noSu) registerSecretValue(su as string);
  return noSu ? { apiKey } : { apiKey, su: su as string };
}

/**
 * The credentials for `serverId` in the secret's value.
 *
 * @example
 * credentialsFor('{"servers":{"c2VydmVy":{"apiKey":"k1"}}}', 'c2VydmVy', id) // → { apiKey: 'k1' }
 */
export function credentialsFor(secret: string, serverId: string, secretId: string): Credentials {
  // Read once per secret value and server, not on every call (a JSON parse and a check of every
  // server's entry); a rotated secret is a new value and is read afresh.
  if (memo?.secret !== secret) memo = { secret, byServer: new Map() };
  let credentials = memo.byServer.get(serverId);
  if (!credentials) {
    credentials = readCredentials(secret, serverId, secretId);
    if (memo.byServer.size < MEMO_SERVERS) memo.byServer.set(serverId, credentials);
  }
  return credentials;
}

/** Servers whose credentials are kept read; ids are path input, so the memo is bounded. */
const MEMO_SERVERS = 1000;
let memo: { secret: string; byServer: Map<string, Credentials> } | undefined;

function readCredentials(secret: string, serverId: string, secretId: string): Credentials {
  const trimmed = secret.trim();
  if (!trimmed.startsWith('{')) return entryCredentials({ apiKey: trimmed }, secretId, '');
  // A JSON secret that does not parse must not fall back to the raw text: that text is the secret.
  const parsed = parseJson(Buffer.from(trimmed)) as { servers?: unknown } | undefined;
  if (parsed?.servers === undefined) return entryCredentials(parsed, secretId, '');
  const servers = parsed.servers;
  if (typeof servers !== 'object' || servers === null || Array.isArray(servers)) throw unusable(secretId, 'servers');
  // `serverId` is in the standard form (the ServerId schema's output); the secret may list an id
  // in either spelling, as a claim may, so its ids are compared in that form too.
  const entries = Object.entries(servers);
  const own = entries.find(([id]) => normaliseServerId(id) === serverId);
  // Every key in the secret is scrubbed from logs and responses, not only the one in use.
  for (const entry of entries) if (entry !== own) entryCredentials(entry[1], secretId, 'servers.*.');
  if (!own) throw new MissingCredentialsError(`no key for server ${serverId}`);
  return entryCredentials(own[1], secretId, 'servers.*.');
}

export const sameCredentials = (a: Credentials, b: Credentials) => a.apiKey === b.apiKey && a.su === b.su;
