// The service end to end on loopback with the shipped base model: `scaleot serve` (with its
// worker), `scaleot admin` and the data owners' client. Owner A pulls an emulator, tunes it,
// pushes the adapter, the plug-in job finishes and `generate` answers; owner B sees and
// touches nothing of A's (404s); bad uploads and requests are refused with the right status
// and nothing is stored. Bounded: every wait has a deadline and the server is stopped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, writeFileSync, mkdirSync, readFileSync, copyFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceClient, ClientError } from '../../src/service/client.js';
import { offsiteTune } from '../../src/offsite/tune.js';
import type { Task } from '../../src/data/tasks.js';
import { sha256File } from '../../src/io/hash.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const CLI = join(here, '..', '..', 'src', 'cli', 'main.js');
const MODEL = join(root, 'models', 'scaleot-base-16');
let dir = '', url = '', server: ChildProcess | null = null;

const admin = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, 'admin', ...args, '--data', join(dir, 'svc'), '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, string>;
};

async function until<T>(what: string, fn: () => Promise<T | null>, ms = 120_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function raw(method: string, path: string, key: string, headers: Record<string, string | number>, body?: Buffer, endEarly = false): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, headers: { authorization: `Bearer ${key}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') }));
    });
    req.on('error', (e) => (endEarly ? resolve({ status: 0, body: { error: e.message } }) : reject(e)));
    if (endEarly && body) {
      req.write(body);
      setTimeout(() => req.destroy(), 100);
    } else req.end(body);
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scaleot-e2e-'));
  server = spawn(process.execPath, [CLI, 'serve', '--data', join(dir, 'svc'), '--port', '0', '--importance-steps', '4', '--upload-limit-mb', '64'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  server.stderr!.on('data', (d) => (err += d));
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    server!.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve(m[1]);
    });
    server!.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 30_000);
  });
});

after(() => {
  server?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

test('two data owners: A pulls, tunes, pushes, the plug-in runs and generate answers; B cannot touch A\'s', async () => {
  admin('add-model', 'base', MODEL);
  const a = admin('add-owner', 'alice'), b = admin('add-owner', 'bob');
  const offerA = admin('offer', '--model', 'base', '--owner', 'alice');
  const offerB = admin('offer', '--model', 'base', '--owner', 'bob', '--method', 'ot');
  const A = new ServiceClient({ server: url, key: a.key }), B = new ServiceClient({ server: url, key: b.key });
  assert.deepEqual(((await A.offers()).offers as { id: string }[]).map((o) => o.id), [offerA.offer]);
  assert.deepEqual(((await B.offers()).offers as { id: string }[]).map((o) => o.id), [offerB.offer]);
  await until('offer A ready', async () => (((await A.offers()).offers as { state: string }[])[0].state === 'ready' ? true : null));
  const pulled = await A.pull(offerA.offer, join(dir, 'emu'));
  for (const [name, sha] of Object.entries(pulled.files)) assert.equal(sha256File(join(dir, 'emu', name)), sha);
  // An interrupted pull resumes from its .part file (Range).
  const big = Object.keys(pulled.files).find((n) => n.endsWith('.safetensors'))!;
  mkdirSync(join(dir, 'emu2'));
  const bytes = readFileSync(join(dir, 'emu', big));
  writeFileSync(join(dir, 'emu2', `${big}.part`), bytes.subarray(0, Math.floor(bytes.length / 2)));
  await A.pull(offerA.offer, join(dir, 'emu2'));
  assert.deepEqual(readFileSync(join(dir, 'emu2', big)), bytes);
  // Owner B: nothing of A's exists for B.
  await assert.rejects(B.pull(offerA.offer, join(dir, 'stolen')), (e: ClientError) => e.status === 404);
  // A tunes on its private data and pushes the adapter.
  const items = (k: number) => Array.from({ length: 12 }, (_, i) => ({ context: `The colour of the ${['sky', 'grass', 'snow'][(i + k) % 3]} is`, choices: ['blue', 'green', 'white'], label: (i + k) % 3 }));
  const mc = (k: number): Task => ({ kind: 'mc', name: 'private', items: items(k) });
  offsiteTune(join(dir, 'emu'), { train: mc(0), validation: mc(1), test: mc(2) }, join(dir, 'tuned'), { method: 'full', lrs: [1e-3], steps: 3, batchSize: 2, seqLen: 32, seed: 0 });
  const pushed = await A.push(offerA.offer, join(dir, 'tuned', 'adapter'), { examples: 12, validation: 'wordnet-def' });
  assert.deepEqual(Object.keys(pushed).sort(), ['adapter', 'job']);
  await assert.rejects(B.push(offerA.offer, join(dir, 'tuned', 'adapter')), (e: ClientError) => e.status === 404);
  await assert.rejects(B.job(String(pushed.job)), (e: ClientError) => e.status === 404);
  assert.deepEqual((await B.jobs()).jobs, ((await B.jobs()).jobs as { id: string }[]).filter((j) => j.id !== pushed.job));
  const done = await until('the plug-in job', async () => {
    const j = await A.job(String(pushed.job));
    assert.notEqual(j.state, 'failed', String(j.error));
    return j.state === 'done' ? j : null;
  });
  const evaluation = (done.result as { evaluation: { plugin: { metric: string } } }).evaluation;
  assert.equal(evaluation.plugin.metric, 'acc');
  // A second adapter from the same owner, then the model owner aggregates the two (FedAvg by examples).
  offsiteTune(join(dir, 'emu'), { train: mc(1), validation: mc(2), test: mc(0) }, join(dir, 'tuned2'), { method: 'full', lrs: [1e-3], steps: 3, batchSize: 2, seqLen: 32, seed: 1 });
  // ... scored on A's own validation set, uploaded with it.
  writeFileSync(join(dir, 'a-validation.jsonl'), items(2).map((x) => JSON.stringify(x)).join('\n') + '\n');
  const pushed2 = await A.push(offerA.offer, join(dir, 'tuned2', 'adapter'), { examples: 36, validationFile: join(dir, 'a-validation.jsonl') });
  const done2 = await until('the plug-in job on the uploaded validation set', async () => {
    const j = await A.job(String(pushed2.job));
    assert.notEqual(j.state, 'failed', String(j.error));
    return j.state === 'done' ? j : null;
  });
  const ev2 = (done2.result as { evaluation: { file: string; plugin: { metric: string; details: { n: number } } } }).evaluation;
  assert.equal(ev2.file, sha256File(join(dir, 'a-validation.jsonl')));
  assert.equal(ev2.plugin.metric, 'acc');
  assert.equal(ev2.plugin.details.n, 12);
  const agg = admin('aggregate', '--offer', offerA.offer, '--adapters', `${pushed.adapter},${pushed2.adapter}`);
  assert.deepEqual(Object.keys(agg).sort(), ['adapter', 'job']);
  const list = await until('the aggregation', async () => {
    const l = admin('list') as unknown as { jobs: { id: string; state: string; error: string | null }[]; adapters: { id: string; aggregated_from: string | null }[] };
    const j = l.jobs.find((x) => x.id === agg.job)!;
    assert.notEqual(j.state, 'failed', String(j.error));
    return j.state === 'done' ? l : null;
  });
  const made = list.adapters.find((x) => x.id === agg.adapter)!;
  assert.deepEqual(JSON.parse(made.aggregated_from!).map((x: { weight: number }) => x.weight), [12, 36]);
  const g = await A.generate(offerA.offer, String(pushed.adapter), 'The colour of the sky is', 5);
  assert.equal(typeof g.text, 'string');
  assert.ok(g.text.length > 0);
  await assert.rejects(B.generate(offerB.offer, String(pushed.adapter), 'x', 2), (e: ClientError) => e.status === 404);
});

test('bad requests are refused with the right status and nothing is stored', async () => {
  const c = admin('add-owner', 'carol');
  const offer = admin('offer', '--model', 'base', '--owner', 'carol');
  const C = new ServiceClient({ server: url, key: c.key });
  await until('offer C ready', async () => (((await C.offers()).offers as { state: string }[])[0].state === 'ready' ? true : null));
  const store = () => readdirSync(join(dir, 'svc', 'store')).length;
  const before0 = store();
  const body = Buffer.from('not the bytes you hashed');
  const cases: [string, Promise<{ status: number; body: Record<string, unknown> }>, number][] = [
    ['no key', raw('GET', '/v1/offers', '', {}), 401],
    ['wrong key', raw('GET', '/v1/offers', c.key.slice(0, -2) + 'xx', {}), 401],
    ['sha256 mismatch', raw('POST', '/v1/blobs', c.key, { 'content-length': body.length, 'x-content-sha256': 'a'.repeat(64) }, body), 422],
    ['no sha256', raw('POST', '/v1/blobs', c.key, { 'content-length': body.length }, body), 400],
    ['oversized', raw('POST', '/v1/blobs', c.key, { 'content-length': 65 * 2 ** 20, 'x-content-sha256': 'a'.repeat(64) }), 413],
    ['malformed JSON', raw('POST', `/v1/offers/${offer.offer}/adapters`, c.key, { 'content-type': 'application/json', 'content-length': 5 }, Buffer.from('{"fil')), 400],
    ['wrong content type', raw('POST', `/v1/offers/${offer.offer}/adapters`, c.key, { 'content-type': 'text/plain', 'content-length': 2 }, Buffer.from('{}')), 415],
    ['path traversal', raw('POST', `/v1/offers/${offer.offer}/adapters`, c.key, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ files: { '../manifest.json': 'a'.repeat(64) } }))), 400],
    ['unknown blob', raw('POST', `/v1/offers/${offer.offer}/adapters`, c.key, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ files: { 'manifest.json': 'b'.repeat(64), 'adapter.safetensors': 'c'.repeat(64) } }))), 400],
    ['file name traversal on pull', raw('GET', `/v1/offers/${offer.offer}/files/..%2Fservice.sqlite`, c.key, {}), 404],
  ];
  for (const [what, p, status] of cases) assert.equal((await p).status, status, what);
  // A truncated upload: the connection closes before content-length bytes arrive.
  await raw('POST', '/v1/blobs', c.key, { 'content-length': 1000, 'x-content-sha256': 'a'.repeat(64) }, Buffer.alloc(10), true);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(store(), before0, 'nothing stored');
  assert.equal(readdirSync(join(dir, 'svc', 'tmp')).filter((f) => !f.startsWith('check-')).length, 0, 'no partial upload left');
  // An adapter with non-finite weights, uploaded with correct hashes: refused by the plug-in's checks.
  await C.pull(offer.offer, join(dir, 'emu-c'));
  const items = Array.from({ length: 4 }, (_, i) => ({ context: `Item ${i} is`, choices: ['a', 'b'], label: i % 2 }));
  const t: Task = { kind: 'mc', name: 'x', items };
  offsiteTune(join(dir, 'emu-c'), { train: t, validation: t, test: t }, join(dir, 'tuned-c'), { method: 'full', lrs: [1e-3], steps: 1, batchSize: 2, seqLen: 32, seed: 0 });
  mkdirSync(join(dir, 'nan'));
  for (const f of readdirSync(join(dir, 'tuned-c', 'adapter'))) copyFileSync(join(dir, 'tuned-c', 'adapter', f), join(dir, 'nan', f));
  const st = readFileSync(join(dir, 'nan', 'adapter.safetensors'));
  st.writeFloatLE(Number.NaN, st.length - 4);
  writeFileSync(join(dir, 'nan', 'adapter.safetensors'), st);
  const manifest = JSON.parse(readFileSync(join(dir, 'nan', 'manifest.json'), 'utf8'));
  manifest.files['adapter.safetensors'] = sha256File(join(dir, 'nan', 'adapter.safetensors'));
  writeFileSync(join(dir, 'nan', 'manifest.json'), JSON.stringify(manifest));
  await assert.rejects(C.push(offer.offer, join(dir, 'nan')), (e: ClientError) => e.status === 422 && /NaN|finite/i.test(e.message));
  // A validation file that is not a task file: refused before anything is recorded.
  writeFileSync(join(dir, 'bad-validation.jsonl'), '{"context": "x", "choices": ["a"], "label": 3}\n');
  const adaptersBefore = (admin('list') as unknown as { adapters: unknown[] }).adapters.length;
  await assert.rejects(C.push(offer.offer, join(dir, 'tuned-c', 'adapter'), { validationFile: join(dir, 'bad-validation.jsonl') }), (e: ClientError) => e.status === 422 && /not a usable validation file: validation file:1/.test(e.message));
  await assert.rejects(C.push(offer.offer, join(dir, 'tuned-c', 'adapter'), { validation: 'wordnet-def', validationFile: join(dir, 'bad-validation.jsonl') }), /not both/);
  assert.equal((admin('list') as unknown as { adapters: unknown[] }).adapters.length, adaptersBefore, 'no adapter recorded');
  // A revoked key stops working at once.
  admin('revoke-key', c.key);
  await assert.rejects(C.offers(), (e: ClientError) => e.status === 401);
});
