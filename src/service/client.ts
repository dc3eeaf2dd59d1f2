// The data owner's client of the service: list offers, pull an emulator package (streamed,
// resumed with HTTP Range after an interruption, every file checked against the sha256 the
// server lists), push an adapter package made by `scaleot tune` (each file streamed with its
// sha256, then the package), list jobs, and ask for text from the tuned model. Over https the
// server's certificate is verified (against `ca` when given); plain http only to loopback.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import { SAFE_NAME } from './store.js';

/** sha256 of a file, read as a stream (the event loop keeps running). */
async function sha256OfStream(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

export class ClientError extends Error {
  override name = 'ClientError';
  constructor(message: string, readonly status = 0) {
    super(message);
  }
}

export interface ClientOptions {
  server: string;
  key: string;
  /** PEM of the CA that signed the server's certificate (https). */
  ca?: string;
  /** Called with (done, total) bytes while a file moves. */
  progress?: (file: string, done: number, total: number) => void;
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

export class ServiceClient {
  private readonly base: URL;

  constructor(private readonly o: ClientOptions) {
    this.base = new URL(o.server);
    if (this.base.protocol === 'http:' && !LOOPBACK.has(this.base.hostname)) throw new ClientError(`refusing plain http to ${this.base.hostname}: use https (plain http is for loopback only)`);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') throw new ClientError(`--server must be an http(s) URL, got ${o.server}`);
  }

  private send(method: string, path: string, opts: { headers?: Record<string, string | number>; body?: Buffer | NodeJS.ReadableStream } = {}): Promise<IncomingMessage> {
    const url = new URL(path, this.base);
    const fn = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = fn(url, { method, headers: { authorization: `Bearer ${this.o.key}`, ...opts.headers }, ...(this.o.ca ? { ca: readFileSync(this.o.ca) } : {}) }, resolve);
      req.on('error', (e) => reject(new ClientError(`${method} ${url.origin}${url.pathname}: ${e.message}`)));
      if (!opts.body) req.end();
      else if (Buffer.isBuffer(opts.body)) req.end(opts.body);
      else opts.body.pipe(req);
    });
  }

  private async json(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const res = await this.send(method, path, data ? { headers: { 'content-type': 'application/json', 'content-length': data.length }, body: data } : {});
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let v: Record<string, unknown> = {};
    try {
      v = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new ClientError(`${method} ${path}: the server answered ${res.statusCode} with no JSON`, res.statusCode);
    }
    if ((res.statusCode ?? 500) >= 400) throw new ClientError(`${method} ${path}: ${res.statusCode} ${String(v.error ?? '')}`, res.statusCode);
    return v;
  }

  offers(): Promise<Record<string, unknown>> {
    return this.json('GET', '/v1/offers');
  }

  jobs(): Promise<Record<string, unknown>> {
    return this.json('GET', '/v1/jobs');
  }

  job(id: string): Promise<Record<string, unknown>> {
    return this.json('GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  /**
   * Downloads an offer's package into outDir: each file into `<name>.part` (continued with a
   * Range request if a part exists), checked against its sha256, then renamed.
   */
  async pull(offer: string, outDir: string): Promise<{ files: Record<string, string> }> {
    const info = await this.json('GET', `/v1/offers/${encodeURIComponent(offer)}`);
    if (info.state !== 'ready') throw new ClientError(`offer ${offer} is ${String(info.state)}, not ready`);
    const files = info.files as Record<string, string>;
    mkdirSync(outDir, { recursive: true });
    for (const [name, sha] of Object.entries(files)) {
      if (!SAFE_NAME.test(name)) throw new ClientError(`the server listed a bad file name ${JSON.stringify(name)}`);
      const dest = join(outDir, name);
      if (existsSync(dest) && (await sha256OfStream(dest)) === sha) continue;
      const part = `${dest}.part`;
      const have = existsSync(part) ? statSync(part).size : 0;
      const res = await this.send('GET', `/v1/offers/${encodeURIComponent(offer)}/files/${encodeURIComponent(name)}`, { headers: have ? { range: `bytes=${have}-` } : {} });
      if (res.statusCode === 416) rmSync(part, { force: true }); // a stale part: start over next time
      if (res.statusCode !== 200 && res.statusCode !== 206) {
        res.resume();
        throw new ClientError(`GET ${name}: ${res.statusCode}`, res.statusCode);
      }
      const append = res.statusCode === 206;
      const total = Number(res.headers['content-length']) + (append ? have : 0);
      let done = append ? have : 0;
      // Hash while the bytes arrive (the part already on disk first, when resuming).
      const hash = createHash('sha256');
      if (append) for await (const c of createReadStream(part)) hash.update(c as Buffer);
      const out = createWriteStream(part, { flags: append ? 'a' : 'w' });
      for await (const c of res) {
        done += (c as Buffer).length;
        hash.update(c as Buffer);
        if (!out.write(c)) await new Promise<void>((r) => out.once('drain', () => r()));
        this.o.progress?.(name, done, total);
      }
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
      const got = hash.digest('hex');
      if (got !== sha) {
        rmSync(part, { force: true });
        throw new ClientError(`${name}: sha256 ${got} does not match the server's ${sha} (removed; pull again)`);
      }
      renameSync(part, dest);
    }
    return { files };
  }

  /** Uploads every file of an adapter package, then the package; returns the adapter and its plug-in job. */
  /**
   * Uploads every file of an adapter package, then the package; returns the adapter and its
   * plug-in job. The model owner scores the plugged-in model on `validation` (a built-in
   * task's validation split) or on `validationFile`, the data owner's own validation set
   * (.jsonl of multiple-choice items or of {"text"} documents, or a plain-text file),
   * uploaded the same way.
   */
  async push(offer: string, adapterDir: string, opts: { examples?: number; validation?: string; validationFile?: string } = {}): Promise<Record<string, unknown>> {
    if (!existsSync(join(adapterDir, 'manifest.json'))) throw new ClientError(`${adapterDir}: no manifest.json (not an adapter package from scaleot tune)`);
    if (opts.validation && opts.validationFile) throw new ClientError('give a built-in validation task or a validation file, not both');
    if (opts.validationFile && !(existsSync(opts.validationFile) && statSync(opts.validationFile).isFile())) throw new ClientError(`${opts.validationFile}: no such file`);
    const files: Record<string, string> = {};
    for (const name of readdirSync(adapterDir).sort()) {
      const path = join(adapterDir, name);
      if (!statSync(path).isFile()) continue;
      files[name] = await this.uploadBlob(path, name);
    }
    const validationFile = opts.validationFile
      ? { blob: await this.uploadBlob(opts.validationFile, basename(opts.validationFile)), format: opts.validationFile.endsWith('.jsonl') ? 'jsonl' : 'text' }
      : undefined;
    return this.json('POST', `/v1/offers/${encodeURIComponent(offer)}/adapters`, {
      files, ...(opts.examples ? { examples: opts.examples } : {}), ...(opts.validation ? { validation: opts.validation } : {}), ...(validationFile ? { validationFile } : {}),
    });
  }

  /** Streams one file to POST /v1/blobs with its sha256; returns the digest. */
  private async uploadBlob(path: string, name: string): Promise<string> {
    const sha = await sha256OfStream(path), size = statSync(path).size;
    let sent = 0;
    const stream = createReadStream(path);
    stream.on('data', (c) => this.o.progress?.(name, (sent += c.length), size));
    const res = await this.send('POST', '/v1/blobs', { headers: { 'content-type': 'application/octet-stream', 'content-length': size, 'x-content-sha256': sha }, body: stream });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { blob?: string; error?: string };
    if ((res.statusCode ?? 500) >= 400 || v.blob !== sha) throw new ClientError(`upload of ${name}: ${res.statusCode} ${v.error ?? ''}`, res.statusCode);
    return sha;
  }

  /** Asks for text from the tuned model and waits for the job (polling). */
  async generate(offer: string, adapter: string, prompt: string, maxTokens = 40, timeoutMs = 300_000): Promise<{ text: string }> {
    const { job } = await this.json('POST', `/v1/offers/${encodeURIComponent(offer)}/generate`, { adapter, prompt, maxTokens });
    const t0 = Date.now();
    for (;;) {
      const j = await this.job(String(job));
      if (j.state === 'done') return j.result as { text: string };
      if (j.state === 'failed') throw new ClientError(`generation failed: ${String(j.error)}`);
      if (Date.now() - t0 > timeoutMs) throw new ClientError(`generation job ${String(job)} did not finish in ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
