/**
 * Talking to a deployed stage for the smoke test: one request at a time, bounded in time, and
 * every way of not reaching the stage (bad URL, DNS, refused, TLS, timeout) turned into a
 * `StageUnreachable` whose message says which, in words an operator can act on (no stack).
 */

export interface Reply {
  status: number;
  contentType: string;
  headers: Headers;
  body: Buffer;
}

export interface StageRequest {
  method: 'GET' | 'POST';
  /** Path and query under the stage URL, already encoded. */
  path: string;
  headers?: Record<string, string>;
  json?: unknown;
}

/** The stage could not be reached at all: nothing a later check could do differently. */
export class StageUnreachable extends Error {
  override name = 'StageUnreachable';
}

/**
 * The most the smoke run reads of one answer. Every answer it checks is small: a `{url, token}`,
 * a LoginStatus, an error document, a QR PNG of a few kilobytes. A stage (or whatever --url
 * names) that sends more is wrong, and reading all of it would hold it all in memory.
 */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** An answer larger than MAX_ANSWER_BYTES: the check fails, reading stopped there. */
export class AnswerTooLarge extends Error {
  override name = 'AnswerTooLarge';
  constructor(status: number) {
    super(`answered ${status} with more than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB: stopped reading (every answer checked is a few KB)`);
  }
}

/** Reads a body up to `limit` bytes, cancelling the stream past it (the rest is never received). */
async function readBounded(res: Response, limit: number): Promise<Buffer | undefined> {
  const length = Number(res.headers.get('content-length') ?? Number.NaN);
  if (length > limit) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > limit) {
      // Leaving the loop early cancels the stream, which closes the connection.
      return undefined;
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** OpenSSL's codes for what goes wrong most often, in words (its own messages are multi-line). */
const TLS_PROBLEMS: Record<string, string> = {
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS on this port (http:// rather than https://?)',
  CERT_HAS_EXPIRED: 'its certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'its certificate chain holds a self-signed certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its certificate cannot be verified',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its certificate's issuer is unknown here",
  ERR_TLS_CERT_ALTNAME_INVALID: 'its certificate is for another host name',
};

/** What Node's `fetch` (undici) reports as the cause, in words. */
function describeNetworkError(err: unknown, url: URL, timeoutSeconds: number): string {
  const host = url.host;
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `no answer from ${host} within ${timeoutSeconds} s (a firewall, a wrong port, or a stage that hangs?)`;
  }
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const code = cause?.code ?? '';
  const detail = cause?.message ?? (err instanceof Error ? err.message : String(err));
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL') {
    return `cannot resolve ${url.hostname} (DNS: ${code}): check the stage URL`;
  }
  if (code === 'ECONNREFUSED') return `connection to ${host} refused: nothing listens there; check the stage URL`;
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return `${host} closed the connection (${code}): is this the stage URL?`;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return `cannot connect to ${host} in time (${code})`;
  if (/CERT|SSL|TLS|EPROTO/.test(code) || /certificate|ssl|tls/i.test(detail)) {
    const why = TLS_PROBLEMS[code] ?? (detail.split('\n')[0] ?? '').slice(0, 160);
    return `TLS failed with ${host}: ${why} (${code || 'TLS'}); an API Gateway stage URL is https with a valid certificate`;
  }
  if (/bad port/i.test(detail)) return `cannot use port ${url.port} (fetch refuses it): check the stage URL`;
  return `cannot reach ${host} (${code || detail.split('\n')[0]})`;
}

/**
 * The stage's base URL, checked: http(s), no query or fragment. A stage name in the path (a
 * named HTTP API stage, `…/prod`) is kept as the prefix of every route.
 */
export function stageUrl(raw: string | undefined): URL {
  if (!raw) throw new StageUnreachable('--url is required: the stage URL `serverless deploy` printed, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new StageUnreachable(`--url ${JSON.stringify(raw)} is not a URL; give the stage URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new StageUnreachable(`--url must be http(s), not ${url.protocol}`);
  if (url.search || url.hash) throw new StageUnreachable('--url must be the stage URL alone, without a query or fragment');
  // It is printed on the first line: no credentials in it.
  if (url.username || url.password) throw new StageUnreachable('--url must not hold credentials (user:password@); the token goes in --token');
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

export function stageClient(base: URL, timeoutSeconds: number) {
  const prefix = base.pathname.replace(/\/+$/, '');
  return async function call(request: StageRequest): Promise<Reply> {
    const url = new URL(`${base.origin}${prefix}${request.path}`);
    const headers: Record<string, string> = { ...request.headers };
    let body: string | undefined;
    if (request.json !== undefined) {
      body = JSON.stringify(request.json);
      headers['content-type'] = 'application/json';
    }
    let res: Response;
    try {
      res = await fetch(url, { method: request.method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutSeconds * 1000) });
    } catch (err) {
      throw new StageUnreachable(describeNetworkError(err, url, timeoutSeconds));
    }
    let bytes: Buffer | undefined;
    try {
      bytes = await readBounded(res, MAX_ANSWER_BYTES);
    } catch (err) {
      throw new StageUnreachable(describeNetworkError(err, url, timeoutSeconds));
    }
    if (bytes === undefined) throw new AnswerTooLarge(res.status);
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', headers: res.headers, body: bytes };
  };
}

export type StageCall = ReturnType<typeof stageClient>;

/**
 * Media types an answer we check may have; any other is shown as `other content type` (the
 * header comes from the stage, and could carry anything, a token included).
 */
const MEDIA_TYPES = new Set([
  'application/json',
  'application/problem+json',
  'application/octet-stream',
  'application/xml',
  'image/png',
  'text/html',
  'text/plain',
  'text/xml',
]);

/**
 * Answers shown as they are: API Gateway's own bodies (the authorizer's refusals, its throttle
 * and its errors), which carry nothing of the caller's. Compared without whitespace.
 */
const GATEWAY_BODIES = new Set(
  ['Unauthorized', 'Forbidden', 'Not Found', 'Too Many Requests', 'Internal Server Error', 'Service Unavailable', 'Request Entity Too Large'].map((m) =>
    JSON.stringify({ message: m }).replace(/\s/g, ''),
  ),
);

/**
 * A short, printable account of an answer: status, media type, size, and the body only when it
 * is one of API Gateway's fixed answers. Never any other part of a body: a stage (or a host
 * --url names by mistake) may echo the token, cut up, re-cased or re-encoded (base64, percent-
 * or JSON-escaped) past any mask of known spellings, so only fixed words are printed.
 */
export function describeReply(reply: Reply): string {
  const media = reply.contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  const type = media === '' ? '' : MEDIA_TYPES.has(media) ? ` ${media}` : ' (other content type)';
  const compact = reply.body.length <= 64 ? reply.body.toString('utf8').replace(/\s/g, '') : '';
  const body = GATEWAY_BODIES.has(compact) ? ` ${compact}` : reply.body.length ? ` (${reply.body.length} bytes)` : '';
  return `${reply.status}${type}${body}`;
}
