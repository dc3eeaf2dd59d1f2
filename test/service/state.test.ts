// The service's state: keys stored only as salted hashes and checked in constant time, the
// content-addressed store (whole files or none, digests only), the persistent job queue
// (claimed once, recovered after a killed worker), and `scaleot admin` with --json and its
// exit statuses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Service, ServiceError, MAX_ATTEMPTS } from '../../src/service/service.js';
import { ensureAdminToken, SecretVerifier } from '../../src/service/auth.js';
import { SAFE_NAME } from '../../src/service/store.js';
import { renderStatusPage } from '../../src/service/status_page.js';
import { checkReportInBrowser, findChromium } from '../../src/experiment/browser_check.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { writeCheckpointWithGpt2Tokenizer } from '../helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', '..', 'src', 'cli', 'main.js');
let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scaleot-service-'));
  writeCheckpointWithGpt2Tokenizer(join(dir, 'model'), new GPT2LMHeadModel({ vocabSize: 50257, nPositions: 32, nEmbd: 16, nLayer: 8, nHead: 2 }, 1));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('the server\'s verifier: the same answers as the plain checks, remembered secrets still revocable, a wrong secret never accepted', async () => {
  const s = new Service(join(dir, 'verifier'));
  try {
    const token = ensureAdminToken(s.db)!;
    const v = new SecretVerifier(s.db);
    const { key } = s.addOwner('alice');
    const bob = s.addOwner('bob').key;
    for (let round = 0; round < 2; round++) { // the second round answers from what was remembered
      assert.ok(await v.admin(token));
      assert.ok(!(await v.admin(token + 'x')) && !(await v.admin(undefined)));
      assert.equal((await v.owner(key))!.ownerId, 1);
      assert.equal((await v.owner(bob))!.ownerId, 2);
      const flipped = key.slice(0, -1) + (key.endsWith('a') ? 'b' : 'a');
      for (const bad of [flipped, 'sok_nothex_x', '', `${key} `, bob.replace(/_[^_]+$/, key.slice(key.lastIndexOf('_')))]) assert.equal(await v.owner(bad), null, bad);
    }
    s.revokeKey(key); // as `scaleot admin revoke` would, behind the verifier's back
    assert.equal(await v.owner(key), null, 'a revoked key stops at once although it was remembered');
    assert.equal((await v.owner(bob))!.ownerId, 2);
  } finally {
    s.close();
  }
});

test('keys: shown once, stored as salted hashes, checked exactly; revoked keys and the admin token', async () => {
  const s = new Service(join(dir, 'keys'));
  try {
    const token = ensureAdminToken(s.db)!;
    const v = new SecretVerifier(s.db);
    assert.match(token, /^soa_/);
    assert.equal(ensureAdminToken(s.db), null, 'made once');
    assert.ok((await v.admin(token)) && !(await v.admin(token + 'x')) && !(await v.admin(undefined)));
    const { key } = s.addOwner('alice');
    const bob = s.addOwner('bob').key;
    assert.equal((await v.owner(key))!.ownerId, 1);
    assert.equal((await v.owner(bob))!.ownerId, 2);
    for (const bad of [key.slice(0, -1) + (key.endsWith('a') ? 'b' : 'a'), 'sok_nothex_x', '', `${key} `, bob.replace(/_[^_]+$/, key.slice(key.lastIndexOf('_')))]) assert.equal(await v.owner(bad), null, bad);
    assert.throws(() => s.addOwner('alice'), (e: Error) => e instanceof ServiceError && e.status === 409);
    assert.throws(() => s.addOwner('../etc'), /must be letters/);
    assert.deepEqual(s.revokeKey(key), { revoked: true });
    assert.equal(await v.owner(key), null);
    assert.deepEqual(s.revokeKey(key), { revoked: false });
  } finally {
    s.close();
  }
  const bytes = readFileSync(join(dir, 'keys', 'service.sqlite')).toString('latin1') + (existsSync(join(dir, 'keys', 'service.sqlite-wal')) ? readFileSync(join(dir, 'keys', 'service.sqlite-wal')).toString('latin1') : '');
  assert.ok(!/sok_[0-9a-f]{12}_[A-Za-z0-9_-]{20}/.test(bytes) && !/soa_[A-Za-z0-9_-]{20}/.test(bytes), 'no key or token in the database files');
});

test('store: content-addressed, whole files only, plain names only', () => {
  const s = new Service(join(dir, 'store'));
  try {
    mkdirSync(join(dir, 'pkg'));
    writeFileSync(join(dir, 'pkg', 'a.json'), '{"a":1}');
    writeFileSync(join(dir, 'pkg', 'b.safetensors'), Buffer.alloc(3000, 7));
    const id = s.store.putPackage(join(dir, 'pkg'), ['a.json', 'b.safetensors']);
    assert.equal(s.store.putPackage(join(dir, 'pkg'), ['b.safetensors', 'a.json']), id, 'same content, same id');
    const out = s.store.materialize(id);
    assert.deepEqual(readdirSync(out).sort(), ['a.json', 'b.safetensors']);
    assert.equal(readFileSync(join(out, 'a.json'), 'utf8'), '{"a":1}');
    const t = s.store.temporary();
    writeFileSync(t, 'abc');
    assert.throws(() => s.store.adopt(t, '0'.repeat(64)), /sha256 mismatch/);
    assert.ok(!existsSync(t), 'a refused upload leaves nothing');
    assert.throws(() => s.store.path('../service.sqlite'), /not a sha256 digest/);
    for (const bad of ['../x', '.hidden', 'a/b', 'a\\b', '']) assert.ok(!SAFE_NAME.test(bad), bad);
    writeFileSync(join(dir, 'pkg', '..x'), '');
    assert.throws(() => s.store.putPackage(join(dir, 'pkg'), ['..x']), /not a plain file name/);
    writeFileSync(s.store.temporary(), 'left by a killed upload');
    assert.equal(s.store.sweep(), 1);
  } finally {
    s.close();
  }
});

test('jobs: claimed once in order, and recovered after a killed worker (requeued, failed after the last attempt)', () => {
  const s = new Service(join(dir, 'jobs'));
  try {
    s.addModel('base', join(dir, 'model'));
    s.addOwner('alice');
    assert.throws(() => s.offer('nope', 'alice', 'scaleot', {}), (e: Error) => e instanceof ServiceError && e.status === 404);
    assert.throws(() => s.offer('base', 'alice', 'magic', {}), /magic/);
    const { offer, job } = s.offer('base', 'alice', 'scaleot', { beta: 0.5 });
    assert.match(offer, /^off_/);
    const second = s.enqueue('plugin', { x: 1 }, 1);
    const c1 = s.claimJob()!, c2 = s.claimJob()!;
    assert.deepEqual([c1.id, c2.id], [job, second]);
    assert.equal(s.claimJob(), null);
    // The worker was killed while running both: they go back to the queue until MAX_ATTEMPTS.
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
      assert.deepEqual(s.recoverJobs().requeued.sort(), [job, second].sort());
      s.claimJob();
      s.claimJob();
    }
    assert.deepEqual(s.recoverJobs().failed.sort(), [job, second].sort());
    const listed = s.list();
    assert.deepEqual((listed.jobs as { state: string }[]).map((j) => j.state), ['failed', 'failed']);
    assert.equal(JSON.parse((listed.offers as { settings: string }[])[0].settings).beta, 0.5);
  } finally {
    s.close();
  }
});

test('scaleot admin: --json prints one object; usage errors exit 2, failures 1, on stderr', () => {
  const admin = (...args: string[]) => spawnSync(process.execPath, [CLI, 'admin', ...args], { encoding: 'utf8' });
  const data = join(dir, 'cli');
  const m = admin('add-model', 'base', join(dir, 'model'), '--data', data, '--json');
  assert.equal(m.status, 0, m.stderr);
  assert.match(m.stderr, /admin token \(shown once/);
  assert.equal(JSON.parse(m.stdout).model, 'base');
  const o = admin('add-owner', 'alice', '--data', data, '--json');
  const owner = JSON.parse(o.stdout);
  assert.deepEqual(Object.keys(owner), ['owner', 'key']);
  assert.doesNotMatch(o.stderr, /admin token/, 'the token is printed at first start only');
  const f = JSON.parse(admin('offer', '--model', 'base', '--owner', 'alice', '--data', data, '--json').stdout);
  assert.deepEqual(Object.keys(f), ['offer', 'job']);
  const list = JSON.parse(admin('list', '--data', data, '--json').stdout);
  assert.equal(list.offers[0].state, 'building');
  assert.ok(!JSON.stringify(list).includes(owner.key), 'list shows no key');
  for (const [args, status, re] of [
    [['frobnicate', '--data', data], 2, /unknown subcommand "frobnicate"/],
    [['add-owner', '--data', data], 2, /expected <NAME>/],
    [['add-owner', 'alice', '--data', data], 1, /exists already/],
    [['revoke-key', 'sok_000000000000_x', '--data', data], 1, /no such active key/],
  ] as const) {
    const r = admin(...args);
    assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stdout, '');
  }
});

test('the status page renders in headless Chromium: every table, no script error, no network request', async (t) => {
  const chromium = findChromium();
  if (!chromium) {
    if (process.env.SCALEOT_REQUIRE_CHROMIUM === '1') assert.fail('Chromium is required here (SCALEOT_REQUIRE_CHROMIUM=1) but none was found');
    t.skip('no Chromium on this machine (CI requires it)');
    return;
  }
  const s = new Service(join(dir, 'page'));
  try {
    s.addModel('base', join(dir, 'model'));
    s.addOwner('alice');
    s.addOwner('bob');
    s.offer('base', 'alice', 'scaleot', {});
    const file = join(dir, 'status.html');
    writeFileSync(file, renderStatusPage(s.list()));
    const page = await checkReportInBrowser(file, chromium);
    assert.deepEqual([page.consoleErrors, page.exceptions, page.requests], [[], [], []]);
    const rows = Object.fromEntries(page.tables.map((x) => [x.className, x.rows]));
    assert.deepEqual(rows, { models: 1, owners: 2, keys: 2, offers: 1, jobs: 1 });
    assert.ok(page.tables.every((x) => x.width > 0 && x.height > 0));
  } finally {
    s.close();
  }
});
