import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * Checks a SigV4-signed request the way AWS does, with the AWS SDK's own signer
 * (@smithy/signature-v4, a dev dependency) rather than the one that signed it (aws4, in
 * lib/aws/call.ts): the fakes of local/packaged/fake-aws.ts and test/support/fake-aws.ts refuse a
 * request whose signature this does not reproduce, so every test and `npm start -- --packaged` run
 * proves the shipped signing byte for byte.
 */

export interface SigningKey {
  secretAccessKey: string;
  /** When set, the request must carry exactly this `x-amz-security-token`. */
  sessionToken?: string;
}

export interface ReceivedRequest {
  method: string;
  /** Path and query as received. */
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer | string;
}

export type SignatureCheck =
  | { ok: true; accessKeyId: string; region: string; service: string }
  | { ok: false; accessKeyId?: string; reason: 'unsigned' | 'unknown key' | 'bad token' | 'bad signature' };

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const header = (headers: IncomingHttpHeaders, name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

/**
 * The signature the AWS SDK would compute for this request (same signed headers, date, region and
 * service), as the `Authorization` header it would send.
 *
 * @example
 * const expected = await sdkAuthorization(request, 'secret', { region: 'eu-west-1', service: 'sqs', accessKeyId: 'AKID', signedHeaders: ['host', ...] });
 */
export async function sdkAuthorization(
  request: ReceivedRequest,
  secretAccessKey: string,
  scope: { accessKeyId: string; region: string; service: string; signedHeaders: string[]; sessionToken?: string },
): Promise<{ authorization: string; canonicalRequest: string }> {
  const headers: Record<string, string> = {};
  for (const name of scope.signedHeaders) {
    if (name === 'x-amz-date' || name === 'x-amz-security-token' || name === 'x-amz-content-sha256') continue; // the signer sets these itself
    headers[name] = header(request.headers, name) ?? '';
  }
  const amzDate = header(request.headers, 'x-amz-date') ?? '';
  const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  const [path = '/', query = ''] = request.path.split('?', 2);
  const signer = new SignatureV4({
    service: scope.service,
    region: scope.region,
    credentials: { accessKeyId: scope.accessKeyId, secretAccessKey, ...(scope.sessionToken ? { sessionToken: scope.sessionToken } : {}) },
    sha256: Hash.bind(null, 'sha256'),
  });
  const httpRequest = {
    method: request.method,
    protocol: 'https:',
    hostname: headers.host ?? '',
    path,
    query: Object.fromEntries(new URLSearchParams(query)),
    headers,
    body: request.body,
  };
  const signed = await signer.sign(httpRequest, { signingDate });
  const { headers: signedHeaders } = signed;
  // The canonical request too, for a test to compare with the signer under test: protected in the SDK.
  const canonicalHeaders = Object.fromEntries(
    Object.entries(signedHeaders)
      .filter(([name]) => name !== 'authorization')
      .map(([n, v]) => [n.toLowerCase(), v]),
  );
  const payloadHash = await (async () => {
    const hash = new Hash('sha256');
    hash.update(request.body);
    return Buffer.from(await hash.digest()).toString('hex');
  })();
  const canonicalRequest = (signer as unknown as { createCanonicalRequest(r: unknown, h: unknown, p: string): string }).createCanonicalRequest(
    signed,
    canonicalHeaders,
    payloadHash,
  );
  return { authorization: String(signedHeaders.authorization), canonicalRequest };
}

/**
 * Recomputes the request's signature from its signed headers and the key its `Credential=` names.
 *
 * @example
 * const check = await checkSignature(request, (accessKeyId) => keys.get(accessKeyId));
 * if (!check.ok) return fail(403, 'InvalidSignatureException', ...);
 */
export async function checkSignature(request: ReceivedRequest, keyOf: (accessKeyId: string) => SigningKey | undefined): Promise<SignatureCheck> {
  const parsed = AUTHORIZATION.exec(header(request.headers, 'authorization') ?? '');
  if (!parsed) return { ok: false, reason: 'unsigned' };
  const [, accessKeyId = '', date, region = '', service = '', signedHeaderList = '', signature = ''] = parsed;
  const key = keyOf(accessKeyId);
  if (!key) return { ok: false, accessKeyId, reason: 'unknown key' };
  const token = header(request.headers, 'x-amz-security-token');
  if (key.sessionToken !== undefined && token !== key.sessionToken) return { ok: false, accessKeyId, reason: 'bad token' };
  const signedHeaders = signedHeaderList.split(';');
  if (!header(request.headers, 'x-amz-date')?.startsWith(date ?? '-') || !signedHeaders.includes('host'))
    return { ok: false, accessKeyId, reason: 'bad signature' };
  const { authorization } = await sdkAuthorization(request, key.secretAccessKey, {
    accessKeyId,
    region,
    service,
    signedHeaders,
    ...(token ? { sessionToken: token } : {}),
  });
  const expected = /Signature=([0-9a-f]{64})$/.exec(authorization)?.[1] ?? '';
  const same = expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
  // The SDK signs these headers and no others: a request that signs fewer could be altered in flight.
  const sameHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1] === signedHeaderList;
  return same && sameHeaders ? { ok: true, accessKeyId, region, service } : { ok: false, accessKeyId, reason: 'bad signature' };
}
