// HTTP plumbing for the service on node:http / node:https. A framework was not worth its
// dependency tree here: the routes are a dozen, and what matters — streaming uploads with a
// size cap and sha256 on the fly, Range downloads, TLS, JSON errors with the right status —
// is a few lines each on the standard library.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs';

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/** Reads a JSON request body (content type application/json, at most `limit` bytes). */
export async function readJson(req: IncomingMessage, limit = 1 << 16): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/.test(type)) throw new HttpError(415, `expected content-type application/json, got ${JSON.stringify(type)}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new HttpError(413, `request body over ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  let v: unknown;
  try {
    v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'malformed JSON in the request body');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'the request body must be a JSON object');
  return v as Record<string, unknown>;
}

/**
 * Streams a request body into `path` (which must not exist), hashing as it goes; refuses a
 * body over `limit`, shorter than its content-length, or whose sha256 is not `expected`.
 * On any failure the partial file is removed.
 */
export async function receiveFile(req: IncomingMessage, path: string, limit: number, expected: string): Promise<{ bytes: number; sha256: string }> {
  const declared = Number(req.headers['content-length']);
  if (!Number.isInteger(declared) || declared < 0) throw new HttpError(411, 'uploads need a content-length');
  if (declared > limit) throw new HttpError(413, `upload of ${declared} bytes over the limit of ${limit}`);
  const hash = createHash('sha256');
  const out = createWriteStream(path, { flags: 'wx' });
  let bytes = 0;
  try {
    for await (const c of req) {
      bytes += (c as Buffer).length;
      if (bytes > declared) throw new HttpError(400, 'upload longer than its content-length');
      hash.update(c as Buffer);
      if (!out.write(c)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    if (bytes !== declared) throw new HttpError(400, `truncated upload: ${bytes} of ${declared} bytes`);
    const sha256 = hash.digest('hex');
    if (sha256 !== expected) throw new HttpError(422, `sha256 mismatch: the upload hashes to ${sha256}, the client said ${expected}`);
    return { bytes, sha256 };
  } catch (e) {
    out.destroy();
    rmSync(path, { force: true });
    if (e instanceof HttpError) throw e;
    throw new HttpError(400, `upload failed: ${(e as Error).message}`);
  }
}

/** Sends a file, honouring a single `Range: bytes=a-` or `bytes=a-b` (for resumed pulls). */
export function sendFile(req: IncomingMessage, res: ServerResponse, path: string, sha256: string): void {
  const size = statSync(path).size;
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  const headers = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes', 'x-content-sha256': sha256, 'cache-control': 'no-store' };
  if (req.headers.range && !range) throw new HttpError(416, `unsupported range ${JSON.stringify(req.headers.range)}`);
  if (range) {
    const start = Number(range[1]), end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    if (start >= size || start > end) {
      res.writeHead(416, { 'content-range': `bytes */${size}` });
      res.end();
      return;
    }
    res.writeHead(206, { ...headers, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}` });
    createReadStream(path, { start, end }).pipe(res);
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': size });
  createReadStream(path).pipe(res);
}
