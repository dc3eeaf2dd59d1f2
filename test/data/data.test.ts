// The offline datasets: two builds are byte-identical, no item crosses splits, no 13-gram
// of any downstream split occurs in the pretraining corpus, and every multiple-choice test
// split has at least 500 items. Task files report bad lines with file and line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildData, ensureData, addNgrams, hasNgram, MC_TASKS, SPLITS, Manifest } from '../../src/data/build.js';
import { loadTask, loadTaskFile } from '../../src/data/tasks.js';

let base = '';
let a = '';
let manifest: Manifest;

before(() => {
  base = mkdtempSync(join(tmpdir(), 'scaleot-data-'));
  a = join(base, 'a');
  manifest = buildData(a).manifest;
});
after(() => rmSync(base, { recursive: true, force: true }));

test('two builds are byte-identical', () => {
  const b = join(base, 'b');
  const m2 = buildData(b).manifest;
  assert.deepEqual(m2, manifest);
  for (const f of Object.keys(manifest.files)) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs`);
});

test('ensureData reuses a verified cache and rebuilds an altered one', () => {
  const c = join(base, 'c');
  cpSync(a, c, { recursive: true });
  const logs: string[] = [];
  ensureData(c, (s) => logs.push(s));
  assert.equal(logs.length, 0);
  writeFileSync(join(c, 'sotu/test.txt'), 'tampered');
  ensureData(c, (s) => logs.push(s));
  assert.ok(logs.some((l) => /missing or altered/.test(l)));
  assert.equal(readFileSync(join(c, 'sotu/test.txt'), 'utf8'), readFileSync(join(a, 'sotu/test.txt'), 'utf8'));
});

test('no item crosses splits and every test split has at least 500 items', () => {
  for (const name of MC_TASKS) {
    const seen = new Map<string, string>();
    const texts = new Map<string, string>();
    for (const split of SPLITS) {
      const t = loadTask(name, split, a);
      assert.equal(t.kind, 'mc');
      if (t.kind !== 'mc') continue;
      if (split === 'test') assert.ok(t.items.length >= 500, `${name} test has ${t.items.length} items`);
      const lines = readFileSync(join(a, name, `${split}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      for (const it of lines) {
        assert.ok(!seen.has(it.id), `${it.id} is in ${seen.get(it.id)} and ${split}`);
        seen.set(it.id, split);
        const key = `${it.context}\u0000${it.choices[it.label]}`;
        const other = texts.get(key);
        assert.ok(other === undefined || other === split, `${name}: the same question and answer appear in ${other} and ${split}`);
        texts.set(key, split);
      }
    }
  }
});

test('contamination: no 13-gram of any downstream split occurs in the pretraining corpus', () => {
  const downstream = new Set<string>();
  for (const name of MC_TASKS) {
    for (const split of SPLITS) {
      for (const l of readFileSync(join(a, name, `${split}.jsonl`), 'utf8').trim().split('\n')) {
        const it = JSON.parse(l);
        addNgrams(`${it.context} ${it.choices.join(' ')}`, 13, downstream);
      }
    }
  }
  for (const split of SPLITS) addNgrams(readFileSync(join(a, 'sotu', `${split}.txt`), 'utf8'), 13, downstream);
  assert.ok(downstream.size > 1_000_000, 'the downstream 13-gram set should be large');
  let docs = 0;
  for (const part of ['train', 'dt', 'dv']) {
    for (const l of readFileSync(join(a, 'pretrain', `${part}.jsonl`), 'utf8').trim().split('\n')) {
      const d = JSON.parse(l);
      docs++;
      for (const para of d.text.split('\n')) assert.ok(!hasNgram(para, 13, downstream), `${d.id} shares a 13-gram with a downstream split`);
    }
  }
  assert.ok(docs > 500);
});

test('user task files: formats and errors with file and line', () => {
  const dir = join(base, 'files');
  rmSync(dir, { recursive: true, force: true });
  const w = (name: string, text: string) => {
    writeFileSync(join(base, name), text);
    return join(base, name);
  };
  const mc = loadTaskFile(w('ok.jsonl', '{"context":"2+2=","choices":["4","5"],"label":0}\n\n{"context":"x","choices":["a","b","c"],"label":2}\n'));
  assert.equal(mc.kind, 'mc');
  assert.equal(mc.kind === 'mc' && mc.items.length, 2);
  const lm = loadTaskFile(w('lm.jsonl', '{"text":"one document"}\n{"text":"another"}\n'));
  assert.equal(lm.kind === 'lm' && lm.documents.length, 2);
  assert.equal(loadTaskFile(w('doc.txt', 'plain text')).kind, 'lm');
  assert.throws(() => loadTaskFile(w('bad1.jsonl', '{"context":"a","choices":["x","y"],"label":0}\n{"context":"b","choices":["x","y"],"label":2}\n')), /bad1\.jsonl:2: "label" must be an integer index into "choices" \(0\.\.1\), got 2/);
  assert.throws(() => loadTaskFile(w('bad2.jsonl', '{"context":"a","choices":["x","y"],"label":0}\n{oops\n')), /bad2\.jsonl:2: not valid JSON/);
  assert.throws(() => loadTaskFile(w('bad3.jsonl', '{"context":"a","choices":["x"],"label":0}\n')), /bad3\.jsonl:1: "choices" must be a list of at least two/);
  assert.throws(() => loadTaskFile(w('bad4.jsonl', '{"text":"fine"}\n{"txt":"oops"}\n')), /bad4\.jsonl:2: expected \{"text": a non-empty string\}/);
  assert.throws(() => loadTask('no-such-task', 'test', a), /unknown task "no-such-task"/);
});

test('spam: balanced per split (chance 50%), at least 1,000 validation and test items; hypernym items never spell out the answer', () => {
  for (const split of SPLITS) {
    const t = loadTask('spam', split, a);
    if (t.kind !== 'mc') throw new Error('spam is multiple choice');
    const spam = t.items.filter((it) => it.label === 0).length;
    assert.equal(spam * 2, t.items.length, `${split}: as many spam as legitimate messages`);
    if (split !== 'train') assert.ok(t.items.length >= 1000, `spam ${split} has ${t.items.length} items`);
    for (const it of t.items) assert.doesNotMatch(it.context.split('\n')[0], /\[[A-Za-z][\w .-]*\]/, 'mailing-list tags are stripped from subjects');
  }
  const h = loadTask('wordnet-hypernym', 'validation', a);
  if (h.kind !== 'mc') throw new Error('wordnet-hypernym is multiple choice');
  assert.ok(h.items.length >= 1000);
  for (const it of h.items) {
    const noun = it.context.replace(/^(An? )?/, '').replace(/ is a kind of$/, '').toLowerCase().split(/\W+/);
    assert.ok(!it.choices[it.label].toLowerCase().split(/\W+/).some((w) => noun.includes(w)), it.context);
  }
});
