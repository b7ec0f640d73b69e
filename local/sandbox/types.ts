import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request the sandbox server has already read in full. */
export interface SandboxRequest {
  method: string;
  /** Parsed URL; pathname is still percent-encoded exactly as the client sent it. */
  url: URL;
  /** Node's lower-cased header map. */
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/**
 * One emulated upstream (or a part of one). Returns true when it answered the request,
 * false when the path is not one of its own so the server tries the next upstream.
 */
export type SandboxUpstream = (req: SandboxRequest, res: ServerResponse) => boolean | Promise<boolean>;

/** Injected clock so tests can move time without sleeping. Milliseconds since the epoch. */
export type Clock = () => number;
