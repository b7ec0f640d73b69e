import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamUnavailableError } from '#lib/errors';
import { clearSecretValues, scrubSecrets } from '#lib/redaction';
import { MissingCredentialsError } from '#lib/upstream/credentials';
import { credentialsFor, sameCredentials } from '#lib/upstream/nextauth-credentials';
import { parsedLogs } from '../../support/logs.ts';
import { thrown } from '../../support/thrown.ts';

const SECRET_ID = 'unit/nextauth';
const SERVER = 'c2VydmVyLTE=';
const OTHER = 'c2VydmVyLTI=';
/** A server id whose standard and base64url spellings differ. */
const STANDARD = 'c2FuZGJveC1zZXJ2ZXI/Pj4+MQ==';
const URL_SAFE = 'c2FuZGJveC1zZXJ2ZXI_Pj4-MQ';

afterEach(() => {
  clearSecretValues();
});

describe('credentialsFor: one key for every server', () => {
  it('reads a bare key', () => {
    expect(credentialsFor('  na_key_plain_0001\n', SERVER, SECRET_ID)).toEqual({ apiKey: 'na_key_plain_0001' });
  });

  it('reads {apiKey, su}, dropping an empty or null su', () => {
    expect(credentialsFor('{"apiKey":"na_key_0001","su":"admin"}', SERVER, SECRET_ID)).toEqual({ apiKey: 'na_key_0001', su: 'admin' });
    expect(credentialsFor('{"apiKey":"na_key_0001","su":""}', SERVER, SECRET_ID)).toEqual({ apiKey: 'na_key_0001' });
    expect(credentialsFor('{"apiKey":"na_key_0001","su":null}', SERVER, OTHER)).toEqual({ apiKey: 'na_key_0001' });
  });

  it('registers the key so it is scrubbed from anything that leaves', () => {
    credentialsFor('{"apiKey":"na_key_scrubbed_0001"}', SERVER, SECRET_ID);

    expect(scrubSecrets('echo na_key_scrubbed_0001')).toBe('echo [redacted]');
  });
});

describe('credentialsFor: one key per server', () => {
  const secret = JSON.stringify({ servers: { [SERVER]: { apiKey: 'na_key_server_1', su: 'ops' }, [OTHER]: { apiKey: 'na_key_server_2' } } });

  it("gives each server its own key, and registers every server's key", () => {
    expect(credentialsFor(secret, SERVER, SECRET_ID)).toEqual({ apiKey: 'na_key_server_1', su: 'ops' });
    expect(scrubSecrets('na_key_server_2')).toBe('[redacted]');
    expect(credentialsFor(secret, OTHER, SECRET_ID)).toEqual({ apiKey: 'na_key_server_2' });
  });

  it('has no key for a server the secret does not list: MissingCredentialsError, never another key', () => {
    const err = thrown(() => credentialsFor(secret, 'dW5rbm93bg==', SECRET_ID));

    expect(err).toBeInstanceOf(MissingCredentialsError);
    expect((err as Error).message).toBe('no key for server dW5rbm93bg==');
  });

  it('finds a server the secret lists in base64url by its standard form', () => {
    const urlSafe = JSON.stringify({ servers: { 'c2Vy-_dmdA': { apiKey: 'na_key_url_safe' } } });

    expect(credentialsFor(urlSafe, 'c2Vy+/dmdA==', SECRET_ID)).toEqual({ apiKey: 'na_key_url_safe' });
  });

  it('does not take a key inherited from Object.prototype for a server', () => {
    expect(thrown(() => credentialsFor(secret, 'toString', SECRET_ID))).toBeInstanceOf(MissingCredentialsError);
  });

  it('finds a server listed in either spelling by its standard id, the one the schema outputs', () => {
    for (const listed of [STANDARD, URL_SAFE, `${URL_SAFE}==`]) {
      const secret = JSON.stringify({ servers: { b3RoZXI: { apiKey: 'other-key' }, [listed]: { apiKey: 'sandbox-key', su: 'role' } } });
      expect(credentialsFor(secret, STANDARD, SECRET_ID)).toEqual({ apiKey: 'sandbox-key', su: 'role' });
    }
    expect(credentialsFor(JSON.stringify({ servers: { b3RoZXI: { apiKey: 'other-key' } } }), 'b3RoZXI=', SECRET_ID)).toEqual({ apiKey: 'other-key' });
  });

  it('gives no key for a server it does not list, in any spelling', () => {
    const secret = JSON.stringify({ servers: { [URL_SAFE]: { apiKey: 'sandbox-key' } } });
    expect(() => credentialsFor(secret, 'c2FuZGJveC1zZXJ2ZXI/Pj4+Mg==', SECRET_ID)).toThrow(MissingCredentialsError);
  });
});

describe('credentialsFor: unusable values', () => {
  const cases: Array<[string, string]> = [
    ['a key with a space', '{"apiKey":"na key"}'],
    ['a key with a newline', '{"apiKey":"na_key\\n0001"}'],
    ['no key', '{"su":"admin"}'],
    ['a key that is not a string', '{"apiKey":12345678}'],
    ['a su that cannot be a header', '{"apiKey":"na_key_0001","su":"a\\u0000b"}'],
    ['a su that is not a string', '{"apiKey":"na_key_0001","su":7}'],
    ['JSON that does not parse', '{"apiKey":"na_key_0001"'],
    ['servers that is not an object', '{"servers":["na_key_0001"]}'],
    ['another server with an unusable key', `{"servers":{"${SERVER}":{"apiKey":"ok_key_0001"},"${OTHER}":{"apiKey":""}}}`],
  ];

  it.each(cases)('answers 503 for %s, logging the secret id and never a value', (_, secret) => {
    const err = thrown(() => credentialsFor(secret, SERVER, SECRET_ID));

    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect((err as UpstreamUnavailableError).toJSON()).toEqual({ code: 'service_unavailable', detail: 'The gateway has no usable nextAuth credentials.' });
    const line = parsedLogs().find((l) => l.msg === 'nextauth secret has no usable credentials');
    expect(line).toMatchObject({ level: 'error', secretId: SECRET_ID });
    expect(JSON.stringify(parsedLogs())).not.toContain('na_key');
  });

  it('refuses a bare key that cannot be sent as a header', () => {
    expect(thrown(() => credentialsFor('two words', SERVER, SECRET_ID))).toBeInstanceOf(UpstreamUnavailableError);
  });
});

describe('credentialsFor: what is scrubbed', () => {
  it('registers the superuser credential as well as the key', () => {
    credentialsFor(JSON.stringify({ apiKey: 'na_key_su_0001', su: 'su_credential_0001' }), SERVER, SECRET_ID);
    expect(scrubSecrets('su_credential_0001')).toBe('[redacted]');
    expect(scrubSecrets('na_key_su_0001')).toBe('[redacted]');
  });
});

describe('credentialsFor: read once per secret value', () => {
  const secret = (key: string) => JSON.stringify({ servers: { [SERVER]: { apiKey: key } } });

  it('gives the same credentials for the same value, and reads a rotated value afresh', () => {
    const first = credentialsFor(secret('na_key_memo_0001'), SERVER, SECRET_ID);
    expect(credentialsFor(secret('na_key_memo_0001'), SERVER, SECRET_ID)).toBe(first);
    expect(credentialsFor(secret('rotated_memo_key_0002'), SERVER, SECRET_ID)).toEqual({ apiKey: 'rotated_memo_key_0002' });
    expect(scrubSecrets('rotated_memo_key_0002')).toBe('[redacted]');
  });

  it('still refuses, every time, a server the value does not list', () => {
    for (let i = 0; i < 2; i++) expect(thrown(() => credentialsFor(secret('na_key_memo_0003'), OTHER, SECRET_ID))).toBeInstanceOf(MissingCredentialsError);
  });
});

describe('sameCredentials', () => {
  it('compares key and su', () => {
    expect(sameCredentials({ apiKey: 'a' }, { apiKey: 'a' })).toBe(true);
    expect(sameCredentials({ apiKey: 'a', su: 'x' }, { apiKey: 'a' })).toBe(false);
    expect(sameCredentials({ apiKey: 'a' }, { apiKey: 'b' })).toBe(false);
  });
});
