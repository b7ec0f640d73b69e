import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { useSecretSource } from '#lib/secrets';
import { createNextAuthSandbox } from '#local/sandbox/nextauth';
import { createSvixSandbox } from '#local/sandbox/svix';
import type { SandboxRequest, SandboxUpstream } from '#local/sandbox/types';
import { mockSecrets } from './secrets.ts';

/**
 * A loopback upstream for handler tests: records every request it gets (so a test can prove
 * that bad input never reached it), answers from a queue of scripted faults when one is
 * queued, and otherwise hands the request to the real sandbox upstreams.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export type ScriptedReply = { status: number; body?: string | object; headers?: Record<string, string>; delayMs?: number } | { hang: true } | { reset: true };

export interface TestUpstream {
  url: string;
  requests: RecordedRequest[];
  /** Answer the next requests with these, in order, before the sandbox answers again. */
  script(...replies: ScriptedReply[]): void;
  close(): Promise<void>;
}

function answer(res: ServerResponse, reply: ScriptedReply): void {
  if ('hang' in reply) return;
  if ('reset' in reply) {
    res.socket?.destroy();
    return;
  }
  const body = typeof reply.body === 'object' ? JSON.stringify(reply.body) : (reply.body ?? '');
  const contentType = typeof reply.body === 'object' ? 'application/json' : 'text/plain';
  const send = () => res.writeHead(reply.status, { 'content-type': contentType, ...reply.headers }).end(body);
  if (reply.delayMs) setTimeout(send, reply.delayMs);
  else send();
}

export async function startTestUpstream(upstreams: SandboxUpstream[]): Promise<TestUpstream> {
  const requests: RecordedRequest[] = [];
  const queue: ScriptedReply[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: body.toString('utf8') });
    const scripted = queue.shift();
    if (scripted) return answer(res, scripted);
    const request: SandboxRequest = { method: req.method ?? 'GET', url: new URL(req.url ?? '/', 'http://127.0.0.1'), headers: req.headers, body };
    for (const upstream of upstreams) if (await upstream(request, res)) return;
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    script: (...replies) => queue.push(...replies),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A test upstream for the whole file, with the gateway pointed at it: started before the tests,
 * its recorded requests cleared before each, closed after. `env` gets its URL and returns the
 * variables to set (upstream URLs, secret ids); secrets come from the fake Secrets Manager.
 */
export function useTestUpstream(upstreams: () => SandboxUpstream[], env: (url: string) => Record<string, string>): TestUpstream {
  let current: TestUpstream | undefined;
  beforeAll(async () => {
    current = await startTestUpstream(upstreams());
    // Secrets Manager (the HTTP fake of ./fake-aws.ts), whatever an earlier test of this file injected.
    useSecretSource(undefined);
    Object.assign(process.env, { AWS_REGION: 'eu-west-1', ...env(current.url) });
  });
  afterAll(() => current?.close());
  beforeEach(() => {
    if (current) current.requests.length = 0;
  });
  const live = () => {
    if (!current) throw new Error('the test upstream starts in beforeAll');
    return current;
  };
  return {
    get url() {
      return live().url;
    },
    get requests() {
      return live().requests;
    },
    script: (...replies) => live().script(...replies),
    close: () => live().close(),
  };
}

/**
 * Both sandboxes behind one test upstream, their keys in (fake) Secrets Manager under `test/svix`
 * and `test/nextauth`, and the variables that point the functions at them, plus `env`: the setup
 * every test of Svix and nextAuth handlers together starts from.
 *
 * @example
 * const upstream = useBothSandboxes({ svix: 'sk_canary', nextauth: 'canary-key', serverId: 'c2VydmVy' }, { UPSTREAM_ATTEMPT_TIMEOUT_MS: '400' });
 */
export function useBothSandboxes(keys: { svix: string; nextauth: string; serverId: string }, env: Record<string, string> = {}): TestUpstream {
  mockSecrets({ 'test/svix': keys.svix, 'test/nextauth': JSON.stringify({ apiKey: keys.nextauth }) });
  return useTestUpstream(
    () => [createSvixSandbox({ orgKey: keys.svix }), createNextAuthSandbox({ apiKey: keys.nextauth, serverId: keys.serverId }).upstream],
    (url) => ({ SVIX_API_URL: url, SVIX_SECRET_ID: 'test/svix', NEXTAUTH_API_URL: url, NEXTAUTH_SECRET_ID: 'test/nextauth', ...env }),
  );
}
