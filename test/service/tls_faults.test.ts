// The service over TLS (a throw-away CA and server certificate made with Debian's openssl:
// the client verifies the server against the CA, and refuses a server it cannot verify) and
// after faults: the server killed with SIGKILL during an upload, then restarted — the
// database passes PRAGMA integrity_check, no partial file is visible, and the retried
// upload succeeds; a job left running by a killed worker is resumed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { ServiceClient, ClientError } from '../../src/service/client.js';
import { Service } from '../../src/service/service.js';
import { Worker } from '../../src/service/worker.js';
import { defaultDataDir } from '../../src/data/build.js';
import { offsiteTune } from '../../src/offsite/tune.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const CLI = join(here, '..', '..', 'src', 'cli', 'main.js');
let dir = '';
const running: ChildProcess[] = [];

function start(args: string[]): Promise<{ proc: ChildProcess; url: string }> {
  // Its own process group, so a test can kill the server and its worker together.
  const proc = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.push(proc);
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (https?:\/\/[^\s]+)/.exec(out);
      if (m) resolve({ proc, url: m[1] });
    });
    proc.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 30_000);
  });
}

const admin = (data: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, 'admin', ...args, '--data', data, '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, string>;
};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scaleot-tls-'));
});
after(() => {
  for (const p of running) {
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

test('TLS: the client verifies the server against the CA and refuses one it cannot verify', async () => {
  const ssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=scaleot test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=someone else');
  const data = join(dir, 'svc-tls');
  const owner = admin(data, 'add-owner', 'alice');
  const { proc, url } = await start(['--data', data, '--port', '0', '--tls-cert', join(dir, 'server.pem'), '--tls-key', join(dir, 'server.key'), '--no-worker']);
  assert.match(url, /^https:/);
  const ok = new ServiceClient({ server: url, key: owner.key, ca: join(dir, 'ca.pem') });
  assert.deepEqual((await ok.offers()).offers, []);
  const untrusted = new ServiceClient({ server: url, key: owner.key, ca: join(dir, 'other.pem') });
  await assert.rejects(untrusted.offers(), (e: Error) => e instanceof ClientError && /self[- ]signed|unable to verify|certificate/i.test(e.message));
  const noCa = new ServiceClient({ server: url, key: owner.key });
  await assert.rejects(noCa.offers(), /certificate/i);
  assert.throws(() => new ServiceClient({ server: 'http://192.0.2.1:8470', key: owner.key }), /plain http is for loopback only/);
  const r = spawnSync(process.execPath, [CLI, 'serve', '--data', data, '--host', '0.0.0.0', '--port', '0'], { encoding: 'utf8', timeout: 20_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /plain http is allowed on loopback only/);
  proc.kill('SIGTERM');
});

test('faults: SIGKILL during an upload leaves a sound database and no partial file; the retried upload succeeds; a killed job is resumed', async () => {
  const data = join(dir, 'svc-kill');
  const owner = admin(data, 'add-owner', 'alice');
  const first = await start(['--data', data, '--port', '0', '--no-worker']);
  const body = Buffer.alloc(4 * 2 ** 20, 3);
  const sha = createHash('sha256').update(body).digest('hex');
  // Start an upload, send half of it, then kill the server.
  await new Promise<void>((resolve) => {
    const req = request(new URL('/v1/blobs', first.url), { method: 'POST', headers: { authorization: `Bearer ${owner.key}`, 'content-length': body.length, 'x-content-sha256': sha } });
    req.on('error', () => resolve());
    req.write(body.subarray(0, body.length / 2), () => {
      setTimeout(() => {
        first.proc.kill('SIGKILL');
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 200);
      }, 200);
    });
  });
  await new Promise((r) => first.proc.once('exit', r));
  const db = new Database(join(data, 'service.sqlite'), { readonly: true });
  assert.equal((db.pragma('integrity_check') as { integrity_check: string }[])[0].integrity_check, 'ok');
  db.close();
  assert.ok(!readdirSync(join(data, 'store')).includes(sha), 'the partial upload is not in the store');
  const second = await start(['--data', data, '--port', '0', '--no-worker']);
  assert.deepEqual(readdirSync(join(data, 'tmp')), [], 'the restarted server swept the partial file');
  const res = await new Promise<number>((resolve, reject) => {
    const req = request(new URL('/v1/blobs', second.url), { method: 'POST', headers: { authorization: `Bearer ${owner.key}`, 'content-length': body.length, 'x-content-sha256': sha } }, (r) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(res, 201, 'the retried upload is accepted');
  assert.ok(readdirSync(join(data, 'store')).includes(sha));
  second.proc.kill('SIGTERM');

  // A worker killed mid-job: the job is still 'running' in the database; the next worker resumes it.
  const s = new Service(data);
  try {
    s.addModel('base', join(root, 'models', 'scaleot-base-16'));
    const { job } = s.offer('base', 'alice', 'ot', {});
    s.claimJob(); // the killed worker had taken it
    const w = new Worker(s, { datasetsDir: defaultDataDir(root), once: true });
    assert.equal(await w.run(), 1);
    const row = s.db.prepare('SELECT state, attempts FROM jobs WHERE id = ?').get(job) as { state: string; attempts: number };
    assert.deepEqual(row, { state: 'done', attempts: 2 });
  } finally {
    s.close();
  }
});

test('faults: the server and its worker killed with SIGKILL during a plug-in job; after a restart the job is run again and finishes', async () => {
  const data = join(dir, 'svc-job');
  admin(data, 'add-model', 'base', join(root, 'models', 'scaleot-base-16'));
  const owner = admin(data, 'add-owner', 'alice');
  const offer = admin(data, 'offer', '--model', 'base', '--owner', 'alice', '--method', 'ot');
  const first = await start(['--data', data, '--port', '0']);
  const c = new ServiceClient({ server: first.url, key: owner.key });
  const until = async <T>(what: string, fn: () => Promise<T | null>, ms = 120_000): Promise<T> => {
    for (const t0 = Date.now(); ;) {
      const v = await fn();
      if (v !== null) return v;
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await until('the emulator', async () => (((await c.offers()).offers as { state: string }[])[0].state === 'ready' ? true : null));
  await c.pull(offer.offer, join(dir, 'emu-job'));
  const items = Array.from({ length: 6 }, (_, i) => ({ context: `Item ${i} is`, choices: ['a', 'b'], label: i % 2 }));
  const t = { kind: 'mc' as const, name: 'x', items };
  offsiteTune(join(dir, 'emu-job'), { train: t, validation: t, test: t }, join(dir, 'tuned-job'), { method: 'full', lrs: [1e-3], steps: 1, batchSize: 2, seqLen: 32, seed: 0 });
  // The plug-in job scores 500 validation items of wordnet-def: long enough to be caught running.
  const { job } = await c.push(offer.offer, join(dir, 'tuned-job', 'adapter'), { validation: 'wordnet-def' });
  await until('the job to run', async () => ((await c.job(String(job))).state === 'running' ? true : null));
  process.kill(-first.proc.pid!, 'SIGKILL');
  await new Promise((r) => first.proc.once('exit', r));
  const db = new Database(join(data, 'service.sqlite'), { readonly: true });
  assert.equal((db.pragma('integrity_check') as { integrity_check: string }[])[0].integrity_check, 'ok');
  assert.equal((db.prepare('SELECT state FROM jobs WHERE id = ?').get(job) as { state: string }).state, 'running', 'killed while running');
  db.close();
  const second = await start(['--data', data, '--port', '0']);
  const c2 = new ServiceClient({ server: second.url, key: owner.key });
  const done = await until('the job to finish after the restart', async () => {
    const j = await c2.job(String(job));
    assert.notEqual(j.state, 'failed', String(j.error));
    return j.state === 'done' ? j : null;
  });
  assert.equal((done.result as { evaluation: { task: string } }).evaluation.task, 'wordnet-def');
  assert.ok(readdirSync(join(data, 'plugged')).every((f) => !/\.tmp-/.test(f)), 'no half-written checkpoint left');
  process.kill(-second.proc.pid!, 'SIGTERM');
});
