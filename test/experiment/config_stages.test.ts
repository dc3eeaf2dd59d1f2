// The experiment configuration (defaults, errors that name the file and field) and the
// stage cache (content-hash keys, reuse, interrupted stages cleared or resumed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExperimentConfig, readExperimentConfig, ConfigFileError } from '../../src/experiment/config.js';
import { StageCache, canonicalJson, hashOf } from '../../src/experiment/stages.js';
import { sha256Directory as hashDirectory } from '../../src/io/hash.js';
import { truncateDocuments } from '../../src/experiment/tasks.js';

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
    assert.deepEqual(c.conditions, { privacyGapPct: 5, utilityPct: 5 });
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

test('perplexity documents are cut at a white-space boundary within the character budget', () => {
  assert.deepEqual(truncateDocuments(['one two three', 'four'], 9), ['one two']);
  assert.deepEqual(truncateDocuments(['ab', 'cd ef'], 5), ['ab', 'cd']);
  assert.deepEqual(truncateDocuments(['short'], 100), ['short']);
});
