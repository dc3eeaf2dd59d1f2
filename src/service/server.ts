// The model owner's HTTP API under /v1 (and the status page at /). Data owners authenticate
// with `Authorization: Bearer sok_...`; every owner route checks that the offer, adapter or
// job belongs to the caller and answers 404 otherwise (not 403: ids do not leak). Admin
// routes take the admin token. Uploads go to the content-addressed store in two steps:
// each file as a blob (streamed, size-capped, its sha256 checked), then the adapter package
// naming its blobs, validated with the plug-in's checks before anything is recorded. Names
// from requests are looked up in package indexes; they never reach the file system.
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { readFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadModel } from '../models/load.js';
import type { CausalLM } from '../models/causal_lm.js';
import { validateAdapter } from '../offsite/plugin.js';
import { sha256File } from '../io/hash.js';
import { HttpError, readJson, receiveFile, sendFile, sendJson } from './http.js';
import { SecretVerifier } from './auth.js';
import { Service, ServiceError, type UploadedValidation } from './service.js';
import { SAFE_NAME } from './store.js';
import { BUILTIN_TASKS, loadTaskFile } from '../data/tasks.js';
import { renderStatusPage } from './status_page.js';

export interface ServeOptions {
  dataDir: string;
  host: string;
  port: number;
  tls?: { cert: string; key: string };
  /** Largest file a data owner may upload (bytes). */
  uploadLimit: number;
  /** Request lines (method, path, status, ms); never a key. */
  log?: (s: string) => void;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

interface OfferRow {
  id: string;
  state: string;
  package: string | null;
  model_id: number;
  method: string;
  settings: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, ctx: { ownerId: number }) => Promise<void> | void;

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization ?? '';
  return /^Bearer (\S+)$/.exec(h)?.[1];
}

/**
 * The models adapters are checked against, loaded once per directory: validateAdapter only
 * reads a model (names, shapes, fingerprint), and loading one per upload would hold up the
 * event loop for every other request.
 */
const checkedModels = new Map<string, CausalLM>();
function modelFor(dir: string): CausalLM {
  let m = checkedModels.get(dir);
  if (!m) checkedModels.set(dir, (m = loadModel(dir)));
  return m;
}

/**
 * An adapter package a data owner pushed (files already uploaded as blobs): names and blobs
 * checked, the package validated with the plug-in's checks in a scratch directory, then
 * recorded with its plug-in job.
 */
async function acceptAdapter(service: Service, o: OfferRow, ownerId: number, body: Record<string, unknown>): Promise<{ adapter: string; job: string }> {
  const db = service.db;
  if (o.state !== 'ready' || !o.package) throw new HttpError(409, `offer ${o.id} is ${o.state}`);
  const files = body.files as Record<string, unknown> | undefined;
  if (!files || typeof files !== 'object' || Array.isArray(files)) throw new HttpError(400, 'field "files" must be an object {name: sha256}');
  for (const [name, d] of Object.entries(files)) {
    if (!SAFE_NAME.test(name)) throw new HttpError(400, `file name ${JSON.stringify(name)} is not a plain file name`);
    if (typeof d !== 'string' || !service.store.has(d)) throw new HttpError(400, `file "${name}": blob ${JSON.stringify(d)} was not uploaded`);
  }
  if (!files['manifest.json'] || !files['adapter.safetensors']) throw new HttpError(400, 'an adapter package needs manifest.json and adapter.safetensors');
  const examples = body.examples === undefined ? null : Number(body.examples);
  const task = body.validation === undefined ? undefined : String(body.validation);
  if (task !== undefined && !BUILTIN_TASKS.includes(task)) throw new HttpError(400, `field "validation" must be a built-in task (${BUILTIN_TASKS.join(', ')})`);
  const validationFile = body.validationFile === undefined ? undefined : uploadedValidation(service, body.validationFile);
  if (task !== undefined && validationFile) throw new HttpError(400, 'give "validation" (a built-in task) or "validationFile", not both');
  if (examples !== null && !(Number.isInteger(examples) && examples > 0)) throw new HttpError(400, 'field "examples" must be a positive integer');
  // Validate in a scratch directory of the blobs, with the plug-in's own checks.
  const scratch = join(service.dataDir, 'tmp', `check-${randomBytes(6).toString('hex')}`);
  mkdirSync(scratch);
  try {
    for (const [name, d] of Object.entries(files)) service.store.putFileCopy(d as string, join(scratch, name));
    const manifest = JSON.parse(readFileSync(join(scratch, 'manifest.json'), 'utf8')) as { emulator?: { manifest_sha256?: string } };
    const emulatorDir = service.store.materialize(o.package);
    if (manifest.emulator?.manifest_sha256 !== sha256File(join(emulatorDir, 'manifest.json'))) throw new HttpError(422, 'the adapter was not tuned on this offer\'s emulator');
    const modelDir = (db.prepare('SELECT dir FROM models WHERE id = ?').get(o.model_id) as { dir: string }).dir;
    try {
      validateAdapter(modelFor(modelDir), scratch);
    } catch (e) {
      throw new HttpError(422, (e as Error).message.replaceAll(scratch, 'adapter'));
    }
  } catch (e) {
    if (e instanceof HttpError) throw e;
    throw new HttpError(422, `not a valid adapter package: ${(e as Error).message.replaceAll(scratch, 'adapter')}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const pkg = service.store.putBytes(Buffer.from(JSON.stringify({ files: Object.fromEntries(Object.entries(files).sort()) })));
  return service.addAdapter(o.id, ownerId, pkg, examples, validationFile ?? task);
}

/**
 * The data owner's own validation set, uploaded as a blob: {blob, format: "jsonl" | "text"}.
 * Parsed here with the task-file reader (in a scratch copy) so that a malformed file is
 * refused before anything is recorded, not found out by a failed job.
 */
function uploadedValidation(service: Service, v: unknown): UploadedValidation {
  const o = v as Record<string, unknown> | null;
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new HttpError(400, 'field "validationFile" must be an object {blob, format}');
  if (typeof o.blob !== 'string' || !service.store.has(o.blob)) throw new HttpError(400, `field "validationFile.blob": blob ${JSON.stringify(o.blob)} was not uploaded`);
  if (o.format !== 'jsonl' && o.format !== 'text') throw new HttpError(400, 'field "validationFile.format" must be "jsonl" or "text"');
  const scratch = join(service.dataDir, 'tmp', `validation-${randomBytes(6).toString('hex')}.${o.format === 'jsonl' ? 'jsonl' : 'txt'}`);
  try {
    service.store.putFileCopy(o.blob, scratch);
    const t = loadTaskFile(scratch);
    if (t.kind === 'mc' && t.items.length === 0) throw new Error('no items');
  } catch (e) {
    throw new HttpError(422, `not a usable validation file: ${(e as Error).message.replaceAll(scratch, 'validation file')}`);
  } finally {
    rmSync(scratch, { force: true });
  }
  return { blob: o.blob, format: o.format };
}

type AdminHandler = (req: IncomingMessage, res: ServerResponse, m: RegExpExecArray) => Promise<void> | void;

/** The model owner's routes (admin token): the same operations as `scaleot admin`. */
function adminRoutes(service: Service): [string, RegExp, AdminHandler][] {
  return [
    ['GET', /^\/v1\/admin\/list$/, (_q, res) => sendJson(res, 200, service.list())],
    ['POST', /^\/v1\/admin\/models$/, async (req, res) => {
      const b = await readJson(req);
      sendJson(res, 201, service.addModel(String(b.name ?? ''), String(b.dir ?? '')));
    }],
    ['POST', /^\/v1\/admin\/owners$/, async (req, res) => sendJson(res, 201, service.addOwner(String((await readJson(req)).name ?? '')))],
    ['POST', /^\/v1\/admin\/offers$/, async (req, res) => {
      const b = await readJson(req);
      sendJson(res, 201, service.offer(String(b.model ?? ''), String(b.owner ?? ''), String(b.method ?? 'scaleot'), (b.settings ?? {}) as Record<string, never>));
    }],
    ['POST', /^\/v1\/admin\/revoke$/, async (req, res) => sendJson(res, 200, service.revokeKey(String((await readJson(req)).key ?? '')))],
    ['POST', /^\/v1\/admin\/aggregate$/, async (req, res) => {
      const b = await readJson(req);
      sendJson(res, 201, service.aggregate(String(b.offer ?? ''), (b.adapters ?? []) as string[], String(b.weights ?? 'examples')));
    }],
  ];
}

/** The data owners' routes: each checks that what it touches belongs to the caller. */
function ownerRoutes(service: Service, opts: Pick<ServeOptions, 'uploadLimit'>): [string, RegExp, Handler][] {
  const db = service.db;
  const own = <T>(sql: string, id: string, ownerId: number): T => {
    const row = db.prepare(sql).get(id, ownerId) as T | undefined;
    if (!row) throw new HttpError(404, `no such ${sql.includes('FROM offers') ? 'offer' : sql.includes('FROM jobs') ? 'job' : 'adapter'} "${id}"`);
    return row;
  };
  const offerOf = (id: string, ownerId: number) => own<OfferRow>('SELECT * FROM offers WHERE id = ? AND owner_id = ?', id, ownerId);

  return [
    ['GET', /^\/v1\/offers$/, (_q, res, _m, { ownerId }) => sendJson(res, 200, {
      offers: (db.prepare('SELECT id, state, method, settings, created FROM offers WHERE owner_id = ? ORDER BY created, rowid').all(ownerId) as { settings: string }[]).map((o) => ({ ...o, settings: JSON.parse(o.settings) })),
    })],
    ['GET', /^\/v1\/offers\/([\w-]+)$/, (_q, res, m, { ownerId }) => {
      const o = offerOf(m[1], ownerId);
      sendJson(res, 200, { id: o.id, state: o.state, method: o.method, settings: JSON.parse(o.settings), files: o.package ? service.store.index(o.package).files : null });
    }],
    ['GET', /^\/v1\/offers\/([\w-]+)\/files\/([^/]+)$/, (req, res, m, { ownerId }) => {
      const o = offerOf(m[1], ownerId);
      if (o.state !== 'ready' || !o.package) throw new HttpError(409, `offer ${o.id} is ${o.state}`);
      const digest = service.store.index(o.package).files[decodeURIComponent(m[2])];
      if (!digest) throw new HttpError(404, `offer ${o.id} has no file "${decodeURIComponent(m[2])}"`);
      sendFile(req, res, service.store.path(digest), digest);
    }],
    ['POST', /^\/v1\/blobs$/, async (req, res) => {
      const expected = String(req.headers['x-content-sha256'] ?? '');
      if (!/^[0-9a-f]{64}$/.test(expected)) throw new HttpError(400, 'x-content-sha256 must be the hex sha256 of the body');
      const tmp = service.store.temporary();
      const { sha256 } = await receiveFile(req, tmp, opts.uploadLimit, expected);
      sendJson(res, 201, { blob: service.store.adopt(tmp, expected, sha256) });
    }],
    ['POST', /^\/v1\/offers\/([\w-]+)\/adapters$/, async (req, res, m, { ownerId }) => sendJson(res, 201, await acceptAdapter(service, offerOf(m[1], ownerId), ownerId, await readJson(req)))],
    ['GET', /^\/v1\/jobs$/, (_q, res, _m, { ownerId }) => sendJson(res, 200, {
      jobs: (db.prepare('SELECT id, kind, state, result, error, created, finished FROM jobs WHERE owner_id = ? ORDER BY created, rowid').all(ownerId) as { result: string | null }[])
        .map((j) => ({ ...j, result: j.result ? JSON.parse(j.result) : null })),
    })],
    ['GET', /^\/v1\/jobs\/([\w-]+)$/, (_q, res, m, { ownerId }) => {
      const j = own<{ result: string | null }>('SELECT id, kind, state, result, error, created, finished FROM jobs WHERE id = ? AND owner_id = ?', m[1], ownerId);
      sendJson(res, 200, { ...j, result: j.result ? JSON.parse(j.result) : null });
    }],
    ['POST', /^\/v1\/offers\/([\w-]+)\/generate$/, async (req, res, m, { ownerId }) => {
      const o = offerOf(m[1], ownerId);
      const body = await readJson(req);
      const adapter = String(body.adapter ?? '');
      own('SELECT id FROM adapters WHERE id = ? AND owner_id = ?', adapter, ownerId);
      const prompt = body.prompt;
      if (typeof prompt !== 'string' || prompt.length === 0 || prompt.length > 4000) throw new HttpError(400, 'field "prompt" must be a string of 1 to 4000 characters');
      const maxTokens = body.maxTokens === undefined ? 40 : Number(body.maxTokens);
      if (!(Number.isInteger(maxTokens) && maxTokens >= 1 && maxTokens <= 256)) throw new HttpError(400, 'field "maxTokens" must be an integer in [1, 256]');
      sendJson(res, 202, { job: service.enqueue('generate', { offer: o.id, adapter, prompt, maxTokens }, ownerId) });
    }],
  ];

}

/** Builds the request handler on a Service (exported for tests that drive it in process). */
export function apiHandler(service: Service, opts: Pick<ServeOptions, 'uploadLimit' | 'log'>): (req: IncomingMessage, res: ServerResponse) => void {
  const db = service.db;
  const owner = ownerRoutes(service, opts);
  const admin = adminRoutes(service);

  const secrets = new SecretVerifier(db);

  const route = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    if (req.method === 'GET' && path === '/') {
      if (!(await secrets.admin(bearer(req)))) throw new HttpError(401, 'the status page needs the admin token (Authorization: Bearer)');
      const html = renderStatusPage(service.list());
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" });
      res.end(html);
      return;
    }
    if (path.startsWith('/v1/admin/')) {
      if (!(await secrets.admin(bearer(req)))) throw new HttpError(401, 'admin routes need the admin token');
      for (const [method, re, h] of admin) {
        const m = re.exec(path);
        if (m && req.method === method) return h(req, res, m);
      }
      throw new HttpError(404, `no route ${req.method} ${path}`);
    }
    const who = await secrets.owner(bearer(req));
    if (!who) throw new HttpError(401, 'a valid API key is needed (Authorization: Bearer sok_...)');
    for (const [method, re, h] of owner) {
      const m = re.exec(path);
      if (m && req.method === method) return h(req, res, m, { ownerId: who.ownerId });
    }
    throw new HttpError(404, `no route ${req.method} ${path}`);
  };

  return (req, res) => {
    const t0 = Date.now();
    const path = (req.url ?? '/').split('?')[0];
    res.on('finish', () => opts.log?.(`${req.method} ${path} ${res.statusCode} ${Date.now() - t0}ms`));
    route(req, res, path).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : e instanceof ServiceError ? e.status : 500;
      const message = status === 500 ? 'internal error' : (e as Error).message;
      if (status === 500) opts.log?.(`error on ${req.method} ${path}: ${(e as Error).message}`);
      if (!res.headersSent) sendJson(res, status, { error: message });
      else res.destroy();
      req.resume(); // drain what the client still sends
    });
  };
}

/** Starts the server; resolves once it accepts connections. */
export function serve(service: Service, o: ServeOptions): Promise<Server> {
  if (!o.tls && !LOOPBACK.has(o.host)) throw new ServiceError(`plain http is allowed on loopback only; give --tls-cert and --tls-key to listen on ${o.host}`);
  const handler = apiHandler(service, o);
  const server = o.tls ? createHttps({ cert: readFileSync(o.tls.cert), key: readFileSync(o.tls.key) }, handler) : createHttp(handler);
  server.requestTimeout = 10 * 60_000; // large uploads on slow links
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve(server));
  });
}
