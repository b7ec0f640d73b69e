/**
 * The cold request of `npm run bench`: what a caller of a low-traffic gateway waits for when its
 * request lands on a fresh container. Each run is a fresh Node process that loads the function's
 * bundle and answers one request at once, with Secrets Manager and the upstream's connection set
 * up each `latencyMs` away:
 *
 * - a fake Secrets Manager endpoint (the real SDK client, pointed at it with
 *   AWS_ENDPOINT_URL_SECRETS_MANAGER) that answers GetSecretValue after `latencyMs`;
 * - a TCP proxy in front of the sandbox that holds every new connection for `latencyMs` before it
 *   carries a byte, as a TCP + TLS handshake to a distant upstream would; requests on a connection
 *   already made are not delayed.
 *
 * Floor: load + max(secret latency, connection latency) + call, where load is the run's own
 * require() of the bundle and call is a warm request of the same process (secret cached,
 * connection open). Done in series, as before init started both, the first answer takes about
 * load + secret latency + connection latency + call.
 */
import { execFile } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, connect, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { httpEvent } from '../local/events.ts';
import { startSandbox } from '../local/sandbox/server.ts';

const run = promisify(execFile);

export interface ColdRequestOptions {
  /** The bundled app-portal-access function (`.cjs`). */
  bundleFile: string;
  runs: number;
  secretLatencyMs: number;
  connectionLatencyMs: number;
  out: (line?: string) => void;
}

const listen = async <S extends Server | ReturnType<typeof createHttpServer>>(server: S): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

/** GetSecretValue (AWS JSON 1.1 protocol) answered after a delay; nothing else. */
function fakeSecretsManager(secrets: Record<string, string>, latencyMs: number) {
  let calls = 0;
  const server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    calls++;
    const { SecretId } = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { SecretId?: string };
    const value = SecretId === undefined ? undefined : secrets[SecretId];
    setTimeout(() => {
      const [status, body] =
        req.headers['x-amz-target'] === 'secretsmanager.GetSecretValue' && value !== undefined
          ? [200, { ARN: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${SecretId}-AbCdEf`, Name: SecretId, SecretString: value, VersionId: 'v1' }]
          : [400, { __type: 'ResourceNotFoundException', message: 'not found' }];
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
    }, latencyMs);
  });
  return { server, calls: () => calls };
}

/** A TCP proxy whose connections carry nothing for their first `latencyMs`. */
function slowConnectionProxy(targetPort: number, latencyMs: number) {
  const sockets = new Set<Socket>();
  const server = createTcpServer((client) => {
    sockets.add(client);
    client.pause();
    setTimeout(() => {
      const upstream = connect(targetPort, '127.0.0.1');
      sockets.add(upstream);
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    }, latencyMs);
  });
  return {
    server,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const ms = (n: number) => `${n.toFixed(1)} ms`;

export async function coldRequest(options: ColdRequestOptions): Promise<{ ratio: number }> {
  const { out, secretLatencyMs, connectionLatencyMs } = options;
  const key = 'sk_bench_cold_key';
  const sandbox = await startSandbox({ svixKey: key, nextauth: { apiKey: 'bench', serverId: 'YmVuY2g=' } });
  const sm = fakeSecretsManager({ 'bench/svix': key }, secretLatencyMs);
  const smPort = await listen(sm.server);
  const proxy = slowConnectionProxy(Number(new URL(sandbox.url).port), connectionLatencyMs);
  const proxyPort = await listen(proxy.server);

  const env = {
    PATH: process.env.PATH,
    // What Lambda sets, and the function's own configuration (serverless.yml).
    AWS_LAMBDA_FUNCTION_NAME: 'svixAppPortalAccess',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDBENCHEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'bench-secret-access-key',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${smPort}`,
    SVIX_API_URL: `http://127.0.0.1:${proxyPort}`,
    SVIX_SECRET_ID: 'bench/svix',
    SECRETS_SOURCE: 'aws',
    LOG_LEVEL: 'error',
  };
  const event = JSON.stringify(
    httpEvent({
      method: 'POST',
      rawPath: '/api/v1/auth/app-portal-access/app_demo',
      pathParameters: { app_id: 'app_demo' },
      headers: { 'content-type': 'application/json' },
      body: '{}',
    }),
  );
  const probe = join(import.meta.dirname, 'cold-request-probe.cjs');
  const results: Array<{ loadMs: number; firstMs: number; status: number; warmMs: number }> = [];
  try {
    for (let i = 0; i < options.runs; i++) {
      const { stdout } = await run(process.execPath, [probe, options.bundleFile, event], { env, encoding: 'utf8' });
      const result = JSON.parse(stdout) as (typeof results)[number];
      if (result.status !== 200) throw new Error(`cold request answered ${result.status}`);
      results.push(result);
    }
  } finally {
    proxy.close();
    sm.server.close();
    await sandbox.close();
  }

  const load = median(results.map((r) => r.loadMs));
  const first = median(results.map((r) => r.firstMs));
  const call = median(results.map((r) => r.warmMs));
  const floor = load + Math.max(secretLatencyMs, connectionLatencyMs) + call;
  const serial = load + secretLatencyMs + connectionLatencyMs + call;
  out(`injected: Secrets Manager answers after ${secretLatencyMs} ms; a new upstream connection carries nothing for ${connectionLatencyMs} ms`);
  out(`load (require + init) ${ms(load)}   warm call ${ms(call)}   GetSecretValue calls ${sm.calls()} for ${results.length} runs`);
  out(`first answer          ${ms(first)}   (runs: ${results.map((r) => r.firstMs.toFixed(0)).join(', ')})`);
  out(`floor                 ${ms(floor)}   load + max(secret, connection) + call`);
  out(`in series would be    ${ms(serial)}   load + secret + connection + call (${(serial / floor).toFixed(2)}× the floor)`);
  const ratio = first / floor;
  out(`first answer / floor  ${ratio.toFixed(2)}   target ≤ 1.10`);
  return { ratio };
}
