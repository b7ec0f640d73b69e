import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Allows } from './iam.ts';
import { checkSignature, type SigningKey } from './sigv4-check.ts';

/**
 * The two AWS APIs the shipped functions call, faked over HTTP for the packaged functions: Secrets
 * Manager `GetSecretValue` (AWS JSON 1.1) and SQS `SendMessage` (AWS JSON 1.0), reached through
 * the SDK's own AWS_ENDPOINT_URL_<SERVICE> variables. The bundled lib/aws calls run unmodified: real
 * signing, real serialisation, the MD5 check of the body. Each function signs with an access key of
 * its own; the signature is recomputed with the AWS SDK's signer (sigv4-check.ts) and a mismatch is
 * refused with 403 `InvalidSignatureException` (Secrets Manager) or `SignatureDoesNotMatch` (SQS), as
 * AWS refuses it, so the shipped zips prove they sign correctly. A call its execution role does not
 * allow (local/packaged/iam.ts) is refused with AccessDeniedException, as in AWS. Only these two operations; anything else is answered as AWS answers an
 * unknown operation, so a new call shows up as a failure instead of passing unnoticed.
 */

export interface SentMessage {
  queueUrl: string;
  body: string;
  attributes: Record<string, string>;
}

export interface FakeAws {
  url: string;
  /** Secret ids (names) read, in order. */
  secretReads: string[];
  sentMessages: SentMessage[];
  /** The URL `Ref` of an SQS queue resolves to, here: `<url>/<account>/<name>`. */
  queueUrl(queueName: string): string;
  close(): Promise<void>;
}

/** Who signs with an access key id: a function, through its execution role. */
export interface Principal {
  /** For AccessDenied messages, as AWS words them: the assumed role's session. */
  arn: string;
  allows: Allows;
  /** The key the function signs with (and its session token). */
  key: SigningKey;
}

export interface FakeAwsOptions {
  /** Secret name → SecretString. */
  secrets: Record<string, string>;
  /** Access key id (SigV4 `Credential=`) → the function's role. Any other key is refused. */
  principals: Map<string, Principal>;
  accountId?: string;
  region?: string;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startFakeAws(options: FakeAwsOptions): Promise<FakeAws> {
  const accountId = options.accountId ?? '123456789012';
  const region = options.region ?? 'eu-west-1';
  const secretReads: string[] = [];
  const sentMessages: SentMessage[] = [];
  let base = '';

  const answer = (res: ServerResponse, protocol: '1.0' | '1.1', status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': `application/x-amz-json-${protocol}`, 'x-amzn-requestid': randomUUID() });
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, protocol: '1.0' | '1.1', type: string, message: string, status = 400) => {
    // SQS's JSON protocol also names the error in its AWS Query form (`x-amzn-query-error`).
    if (protocol === '1.0') res.setHeader('x-amzn-query-error', `${type.split('#').pop()};Sender`);
    answer(res, protocol, status, { __type: protocol === '1.0' && !type.includes('#') ? `com.amazonaws.sqs#${type}` : type, message });
  };

  const server = createServer(async (req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const protocol = target.startsWith('AmazonSQS.') ? '1.0' : '1.1';
    try {
      const body = await readBody(req);
      const input = JSON.parse(body || '{}') as Record<string, unknown>;
      // Signed with the credentials Lambda put in the environment; unsigned means none were found.
      const check = await checkSignature(
        { method: req.method ?? '', path: req.url ?? '/', headers: req.headers, body },
        (id) => options.principals.get(id)?.key,
      );
      const principal = options.principals.get(check.accessKeyId ?? '');
      if (!principal || (!check.ok && check.reason === 'bad token') || (check.ok && check.region !== region)) {
        return fail(res, protocol, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
      }
      if (!check.ok) {
        const message = 'The request signature we calculated does not match the signature you provided.';
        return fail(res, protocol, protocol === '1.0' ? 'SignatureDoesNotMatch' : 'InvalidSignatureException', message, 403);
      }
      const denied = (action: string, resource: string) =>
        fail(
          res,
          protocol,
          'AccessDeniedException',
          `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`,
        );
      if (target === 'secretsmanager.GetSecretValue') {
        const id = String(input.SecretId ?? '');
        const name = /^arn:[^:]+:secretsmanager:[^:]+:\d+:secret:(.+)-[A-Za-z0-9]{6}$/.exec(id)?.[1] ?? id;
        secretReads.push(name);
        const arn = `arn:aws:secretsmanager:${region}:${accountId}:secret:${name}-AbCdEf`;
        if (!principal.allows('secretsmanager:GetSecretValue', arn)) return denied('secretsmanager:GetSecretValue', id);
        const value = options.secrets[name];
        if (value === undefined) return fail(res, protocol, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
        return answer(res, protocol, 200, {
          ARN: arn,
          Name: name,
          SecretString: value,
          VersionId: '00000000-0000-4000-8000-000000000000',
          VersionStages: ['AWSCURRENT'],
          CreatedDate: Math.floor(Date.now() / 1000),
        });
      }
      if (target === 'AmazonSQS.SendMessage') {
        const queueUrl = String(input.QueueUrl ?? '');
        if (!queueUrl.startsWith(`${base}/${accountId}/`)) return fail(res, protocol, 'QueueDoesNotExist', 'The specified queue does not exist.');
        const queueArn = `arn:aws:sqs:${region}:${accountId}:${queueUrl.slice(queueUrl.lastIndexOf('/') + 1)}`;
        if (!principal.allows('sqs:SendMessage', queueArn)) return denied('sqs:SendMessage', queueArn);
        const body = String(input.MessageBody ?? '');
        const attributes: Record<string, string> = {};
        for (const [k, v] of Object.entries((input.MessageAttributes ?? {}) as Record<string, { StringValue?: string }>)) attributes[k] = String(v.StringValue);
        sentMessages.push({ queueUrl, body, attributes });
        return answer(res, protocol, 200, { MessageId: randomUUID(), MD5OfMessageBody: createHash('md5').update(body).digest('hex') });
      }
      return fail(res, protocol, 'UnknownOperationException', `fake AWS: ${target || 'no X-Amz-Target'} is not served here`);
    } catch {
      return fail(res, protocol, 'SerializationException', 'Malformed request body.');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    secretReads,
    sentMessages,
    queueUrl: (queueName) => `${base}/${accountId}/${queueName}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
