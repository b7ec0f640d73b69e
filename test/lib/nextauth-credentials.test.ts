import { describe, expect, it } from 'vitest';
import { MissingCredentialsError } from '#lib/upstream/credentials';
import { credentialsFor } from '#lib/upstream/nextauth-credentials';

const STANDARD = 'c2FuZGJveC1zZXJ2ZXI/Pj4+MQ==';
const URL_SAFE = 'c2FuZGJveC1zZXJ2ZXI_Pj4-MQ';

describe('credentialsFor (one key per server)', () => {
  it('finds a server listed in either spelling by its standard id, the one the schema outputs', () => {
    for (const listed of [STANDARD, URL_SAFE, `${URL_SAFE}==`]) {
      const secret = JSON.stringify({ servers: { b3RoZXI: { apiKey: 'other-key' }, [listed]: { apiKey: 'sandbox-key', su: 'role' } } });
      expect(credentialsFor(secret, STANDARD, 'test/nextauth')).toEqual({ apiKey: 'sandbox-key', su: 'role' });
    }
    expect(credentialsFor(JSON.stringify({ servers: { b3RoZXI: { apiKey: 'other-key' } } }), 'b3RoZXI=', 'test/nextauth')).toEqual({ apiKey: 'other-key' });
  });

  it('gives no key for a server it does not list, in any spelling', () => {
    const secret = JSON.stringify({ servers: { [URL_SAFE]: { apiKey: 'sandbox-key' } } });
    expect(() => credentialsFor(secret, 'c2FuZGJveC1zZXJ2ZXI/Pj4+Mg==', 'test/nextauth')).toThrow(MissingCredentialsError);
  });
});
