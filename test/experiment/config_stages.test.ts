// The experiment configuration (defaults, errors that name the file and field) and the
// stage cache (content-hash keys, reuse, interrupted stages cleared or resumed, the
// committed ledger, the per-stage lock across processes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseExperimentConfig, readExperimentConfig, ConfigFileError } from '../../src/experiment/config.js';
import { StageCache, canonicalJson, hashOf } from '../../src/experiment/stages.js';
import { sha256Directory as hashDirectory, modelIdentity } from '../../src/io/hash.js';
import { truncateDocuments } from '../../src/experiment/tasks.js';
import { withRelativePaths } from '../../src/experiment/results.js';

const here = dirname(fileURLToPath(import.meta.url));

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-exp-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('configuration: defaults, paths relative to the file, and the shipped configurations parse', () => {
  withDir((dir) => {
    mkdirSync(join(dir, 'm'));
    const file = join(dir, 'c.json');
    const c = parseExperimentConfig({ name: 'x', model: 'm', tasks: ['sotu'], methods: ['scaleot'] }, file);
    assert.equal(c.model, join(dir, 'm'));
    assert.deepEqual(c.emulator, { numAdapters: 4, alpha: 0.25, beta: 0.8, srcTarget: 'attn', numGroups: 4 });
    assert.deepEqual(c.finetune.lrs, [2e-5, 5e-5, 1e-4, 2e-4, 3e-4]);
    assert.deepEqual(c.tune.lrs, c.finetune.lrs); // the same grid for FT and offsite tuning
    assert.equal(c.tune.method, 'full');
    assert.equal(c.importance.eta, 0.05);
    assert.deepEqual(c.conditions, { privacyGapPct: 5, utilityPct: 5, accuracyPoints: 2, learnableSe: 3 });
    assert.deepEqual([c.precision, c.repeatSeeds, c.readLedgers], ['fp32', [], []]);
    assert.deepEqual(c.repeatTasks, ['sotu'], 'seeds repeat every task unless repeatTasks narrows them');
    const narrowed = parseExperimentConfig({ name: 'x', model: 'm', tasks: ['sotu', 'wordnet-def'], methods: ['scaleot'], repeatSeeds: [1], repeatTasks: ['sotu'] }, file);
    assert.deepEqual([narrowed.repeatSeeds, narrowed.repeatTasks], [[1], ['sotu']]);
  });
  for (const f of ['experiment-demo.json', 'experiment-full.json']) {
    const c = readExperimentConfig(join('configs', f));
    assert.ok(c.methods.includes('scaleot') && c.methods.includes('ot') && c.methods.includes('crash') && c.methods.includes('scaleot-no-src'), f);
    assert.ok(c.tasks.some((t) => t.name === 'sotu'), `${f} has the perplexity task`);
  }
});

test('configuration errors name the file, the field and what was expected', () => {
  withDir((dir) => {
    mkdirSync(join(dir, 'm'));
    const file = join(dir, 'c.json');
    const base = { name: 'x', model: 'm', tasks: ['sotu'], methods: ['scaleot'] };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...base, methods: ['scaleot', 'magic'] }, /c\.json: field "methods\[1\]" must be one of .*"crash".*got "magic"/],
      [{ ...base, emulator: { alpha: 1.5 } }, /field "emulator\.alpha" must be a number in \[0, 1\], got 1\.5/],
      [{ ...base, tasks: ['nope'] }, /field "tasks\[0\]\.name" must be a built-in task/],
      [{ ...base, tasks: [] }, /field "tasks" must be a list of at least 1/],
      [{ ...base, finetune: { steps: 0 } }, /field "finetune\.steps" must be an integer in \[1, Infinity\]/],
      [{ ...base, model: 'missing' }, /field "model" must be an existing model directory/],
      [{ ...base, tune: { method: 'qlora' } }, /field "tune\.method" must be one of "full", "lora", "adapter"/],
      [{ ...base, analyses: { numAdapters: { task: 'wordnet-def', values: [2] } } }, /field "analyses\.numAdapters\.task" must be one of the experiment's tasks/],
      [{ ...base, emulatr: {} }, /unknown field "emulatr"/],
      [{ ...base, name: 'a b' }, /field "name" must be letters, digits/],
      [{ ...base, repeatSeeds: [1, 0] }, /field "repeatSeeds" must be distinct seeds other than the selection seeds \(0\)/],
      [{ ...base, repeatSeeds: [1.5] }, /field "repeatSeeds\[0\]" must be an integer/],
      [{ ...base, readLedgers: ['no-such-dir/stages'] }, /field "readLedgers\[0\]" must be an existing ledger directory/],
      [{ ...base, repeatTasks: ['wordnet-def'] }, /field "repeatTasks\[0\]" must be one of "sotu"/],
      [{ ...base, precision: 'fp16' }, /field "precision" must be one of "fp32", "bf16"/],
    ];
    for (const [raw, re] of cases) assert.throws(() => parseExperimentConfig(raw, file), (e: Error) => e instanceof ConfigFileError && re.test(e.message), JSON.stringify(raw));
    writeFileSync(file, '{"name": ');
    assert.throws(() => readExperimentConfig(file), /c\.json: not valid JSON/);
    assert.throws(() => readExperimentConfig(join(dir, 'none.json')), /none\.json: no such configuration file/);
  });
});

test('stage keys: canonical JSON ignores key order; directory hashes follow content', () => {
  assert.equal(canonicalJson({ b: 1, a: [1, { d: 2, c: 3 }] }), '{"a":[1,{"c":3,"d":2}],"b":1}');
  assert.equal(hashOf({ x: 1, y: 2 }), hashOf({ y: 2, x: 1 }));
  assert.notEqual(hashOf({ x: 1 }), hashOf({ x: 2 }));
  withDir((dir) => {
    writeFileSync(join(dir, 'a'), 'one');
    const h1 = hashDirectory(dir);
    writeFileSync(join(dir, 'a'), 'two');
    assert.notEqual(hashDirectory(dir), h1);
  });
  // A model's identity: its weights, configuration and tokenizer, not its card or logs.
  withDir((dir) => {
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'README.md', 'training_log.jsonl', 'pretraining.json']) writeFileSync(join(dir, f), f);
    const id = modelIdentity(dir);
    for (const f of ['README.md', 'training_log.jsonl', 'pretraining.json']) writeFileSync(join(dir, f), 'edited');
    writeFileSync(join(dir, 'LICENSE'), 'added');
    assert.equal(modelIdentity(dir), id, 'the card, the log and a licence do not change it');
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) {
      writeFileSync(join(dir, f), 'edited');
      assert.notEqual(modelIdentity(dir), id, f);
    }
  });
});

test('stage cache: done stages are reused; interrupted ones are cleared, or resumed with --resume', () => {
  withDir((dir) => {
    const logs: string[] = [];
    let calls = 0;
    const c1 = new StageCache(dir, false, (s) => logs.push(s));
    const a = c1.run('k', { x: 1 }, 'stage', () => ++calls);
    const b = c1.run('k', { x: 1 }, 'stage', () => ++calls);
    assert.equal(calls, 1);
    assert.deepEqual([a.cached, b.cached, b.value], [false, true, 1]);
    assert.equal(c1.run('k', { x: 2 }, 'stage', () => ++calls).value, 2);
    assert.deepEqual([c1.runs.length, c1.hits.length], [2, 1]);
    // Progress counts stages, not lookups: the stage looked up twice is one, computed here.
    assert.deepEqual(c1.distinctStages(), { done: 2, free: 0 });
    const later = new StageCache(dir, false, () => {});
    later.run('k', { x: 1 }, 'stage', () => ++calls);
    later.run('k', { x: 1 }, 'stage', () => ++calls);
    assert.deepEqual(later.distinctStages(), { done: 1, free: 1 });

    // Interrupted: the compute throws after leaving a checkpoint behind.
    assert.throws(() => c1.run('k', { x: 3 }, 'broken', (d) => {
      writeFileSync(join(d, 'checkpoint'), 'half');
      throw new Error('interrupted');
    }));
    const resumed = new StageCache(dir, true, (s) => logs.push(s));
    const seen = resumed.run('k', { x: 3 }, 'broken', (d) => readFileSync(join(d, 'checkpoint'), 'utf8'));
    assert.equal(seen.value, 'half');
    assert.ok(logs.some((l) => /resuming an interrupted run/.test(l)));

    assert.throws(() => c1.run('k', { x: 4 }, 'broken2', (d) => {
      writeFileSync(join(d, 'checkpoint'), 'half');
      throw new Error('interrupted');
    }));
    const fresh = new StageCache(dir, false, (s) => logs.push(s));
    const cleared = fresh.run('k', { x: 4 }, 'broken2', (d) => existsSync(join(d, 'checkpoint')));
    assert.equal(cleared.value, false);
    assert.ok(logs.some((l) => /clearing an interrupted earlier run/.test(l)));
  });
});

test('stage ledger: a committed result is done without its cache; artifacts are rebuilt only on demand; precision is part of the key', () => {
  withDir((dir) => {
    const ledger = join(dir, 'ledger');
    let calls = 0;
    const compute = (d: string) => (writeFileSync(join(d, 'artifact'), 'heavy'), ++calls);
    const a = new StageCache(join(dir, 'cache1'), false, () => {}, { ledgerDir: ledger }).run('emulator', { x: 1 }, 'emu', compute);
    assert.equal(a.value, 1);
    assert.equal(readdirSync(ledger).length, 1);
    rmSync(join(dir, 'cache1'), { recursive: true }); // a fresh machine: only the committed ledger
    const committed = readdirSync(ledger).map((f) => readFileSync(join(ledger, f), 'utf8'));
    const logs: string[] = [];
    const fresh = new StageCache(join(dir, 'cache2'), false, (s) => logs.push(s), { ledgerDir: ledger });
    const b = fresh.run('emulator', { x: 1 }, 'emu', compute);
    assert.deepEqual([b.value, b.cached, calls], [1, true, 1], 'served from the ledger, nothing computed');
    assert.ok(!existsSync(join(b.dir, 'artifact')));
    assert.equal(readFileSync(join(b.materialize(), 'artifact'), 'utf8'), 'heavy');
    assert.equal(calls, 2, 'rebuilt once for a downstream stage');
    b.materialize();
    assert.equal(calls, 2);
    assert.deepEqual(fresh.rebuilt, ['emu']);
    assert.ok(logs.some((l) => /rebuilding its artifacts/.test(l)));
    // This compute is not deterministic (it counts its calls), as another machine's kernels
    // need not be: the committed record is kept byte for byte and the difference is logged.
    assert.deepEqual(readdirSync(ledger).map((f) => readFileSync(join(ledger, f), 'utf8')), committed, 'the ledger is not rewritten by a rebuild');
    assert.deepEqual(fresh.rebuiltDiffering, ['emu']);
    assert.ok(logs.some((l) => /rebuilt result differs from the committed one/.test(l)));
    const bf16 = new StageCache(join(dir, 'cache2'), false, () => {}, { ledgerDir: ledger, precision: 'bf16' }).run('emulator', { x: 1 }, 'emu', compute);
    assert.notEqual(bf16.key, b.key);
    assert.equal(calls, 3);
  });
});

test('stage ledger: another experiment\'s ledger is read, never written; a stage finished there is done here', () => {
  withDir((dir) => {
    const theirs = join(dir, 'base', 'stages');
    const ours = join(dir, 'audit', 'stages');
    let calls = 0;
    const compute = (d: string) => (writeFileSync(join(d, 'artifact'), 'heavy'), ++calls);
    new StageCache(join(dir, 'cache1'), false, () => {}, { ledgerDir: theirs }).run('finetune', { x: 1 }, 'ft', compute);
    const before = readdirSync(theirs).map((f) => readFileSync(join(theirs, f), 'utf8'));
    rmSync(join(dir, 'cache1'), { recursive: true }); // a fresh machine
    const audit = new StageCache(join(dir, 'cache2'), false, () => {}, { ledgerDir: ours, readLedgers: [theirs] });
    const ft = audit.run('finetune', { x: 1 }, 'ft', compute);
    assert.deepEqual([ft.value, ft.cached, calls], [1, true, 1], 'done in the other ledger: nothing computed');
    ft.materialize();
    assert.equal(calls, 2, 'its artifacts rebuilt on demand');
    const own = audit.run('audit', { y: 2 }, 'own stage', compute);
    assert.equal(own.cached, false);
    assert.deepEqual(readdirSync(ours), [`audit-${own.key.slice(0, 16)}.json`], 'only this experiment\'s own stages go to its ledger');
    assert.deepEqual(readdirSync(theirs).map((f) => readFileSync(join(theirs, f), 'utf8')), before, 'the other ledger is untouched');
  });
});

test('stage lock: two processes on one stage compute it once; a dead holder\'s lock is taken over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-lock-'));
  try {
    const script = join(dir, 'worker.mjs');
    writeFileSync(script, [
      `import { StageCache } from ${JSON.stringify(pathToFileURL(join(here, '..', '..', 'src', 'experiment', 'stages.js')).href)};`,
      `import { appendFileSync } from 'node:fs';`,
      `const cache = new StageCache(process.argv[2], false, () => {}, { pollMs: 50 });`,
      `const r = cache.run('k', { x: 1 }, 'slow', () => { appendFileSync(process.argv[3], process.pid + '\\n'); const t = Date.now(); while (Date.now() - t < 1500); return 42; });`,
      `console.log(JSON.stringify({ value: r.value, cached: r.cached }));`,
    ].join('\n'));
    const runOne = () => new Promise<{ value: number; cached: boolean }>((res, rej) => {
      const p = spawn(process.execPath, [script, join(dir, 'cache'), join(dir, 'calls')], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.on('close', (code) => (code === 0 ? res(JSON.parse(out)) : rej(new Error(`worker exited ${code}`))));
    });
    const both = await Promise.all([runOne(), runOne()]);
    assert.deepEqual(both.map((r) => r.value), [42, 42]);
    assert.deepEqual(both.map((r) => r.cached).sort(), [false, true], 'one computed, the other took its result');
    assert.equal(readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n').length, 1, 'computed once');

    // A lock left by a process that no longer exists does not block.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const cache = new StageCache(join(dir, 'cache'), false, () => {}, { pollMs: 10 });
    const key = cache.run('k', { x: 2 }, 'first', () => 1).dir;
    rmSync(key, { recursive: true });
    writeFileSync(`${key}.lock`, JSON.stringify({ pid: Number(gone), host: hostname() }));
    const logs: string[] = [];
    const again = new StageCache(join(dir, 'cache'), false, (s) => logs.push(s), { pollMs: 10 }).run('k', { x: 2 }, 'second', () => 2);
    assert.equal(again.value, 2);
    assert.ok(logs.some((l) => /taking over the lock/.test(l)));
    assert.ok(!existsSync(`${key}.lock`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('perplexity documents are cut at a white-space boundary within the character budget', () => {
  assert.deepEqual(truncateDocuments(['one two three', 'four'], 9), ['one two']);
  assert.deepEqual(truncateDocuments(['ab', 'cd ef'], 5), ['ab', 'cd']);
  assert.deepEqual(truncateDocuments(['short'], 100), ['short']);
});

test('results.json records a configuration without machine paths (model, tasks, cache, output, ledgers read)', () => {
  for (const f of ['experiment-demo.json', 'experiment-base24.json', 'audit-base24.json']) {
    const c = withRelativePaths(readExperimentConfig(join('configs', f)), process.cwd());
    const absolute: string[] = [];
    JSON.stringify(c, (_k, v: unknown) => {
      if (typeof v === 'string' && isAbsolute(v)) absolute.push(v);
      return v;
    });
    assert.deepEqual(absolute, [], `${f}: absolute paths in the recorded configuration`);
  }
});
