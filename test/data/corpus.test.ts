// The larger pre-training corpus's builder on fixtures (the Debian packages it reads are
// not needed for the tests): 13-gram decontamination drops exactly the paragraphs that
// share a 13-gram with downstream text, parts follow the hash, the attacker's other source
// stays whole, reserved Brown samples are in no part, and the cleaners keep prose only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addNgrams } from '../../src/data/build.js';
import { assembleCorpus, brownReservedForTasks, corpusPartOf, corpusSources, defaultCorpusDir, pretrainingTexts, CORPUS_VERSION, CORPUS_VERSIONS } from '../../src/data/corpus.js';
import { nlpCorpusDocuments } from '../../src/data/nlp_corpus.js';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanGcideEntry, rstProse } from '../../src/data/debian_sources.js';
import { brownDocuments } from '../../src/data/sources.js';

const downstream = 'the quick brown fox jumps over the lazy dog while the small cat sleeps near the warm fire';

test('decontamination drops the paragraphs sharing a 13-gram with downstream text; parts by hash; deterministic', () => {
  const grams = new Set<string>();
  addNgrams(downstream, 13, grams);
  const docs = Array.from({ length: 60 }, (_, i) => ({
    id: `fixture/${i}`,
    text: i % 3 === 0
      ? `A clean first paragraph number ${i}.\nIt said: The quick brown fox jumps over the lazy dog while the small cat sleeps near the warm fire, indeed.`
      : i % 3 === 1 ? `Only contaminated: the quick brown fox jumps over the lazy dog while the small cat sleeps near the warm fire.` : `Plain text ${i}, nothing shared with any task.`,
  }));
  const sources = [{ name: 'fixture', docs: () => docs }, { name: 'other', docs: () => [{ id: 'other/1', text: 'In the beginning.' }], part: 'other' as const }];
  const a = assembleCorpus(sources, grams);
  const b = assembleCorpus(sources, grams);
  assert.deepEqual([...a.parts], [...b.parts], 'the same sources give the same corpus');
  const all = [...a.parts.values()].flat().map((l) => JSON.parse(l) as { id: string; text: string });
  for (const d of all) assert.doesNotMatch(d.text.toLowerCase(), /quick brown fox jumps over the lazy dog while the small cat/);
  assert.equal(a.perSource.fixture.dropped, 40, 'one paragraph of each mixed document and each contaminated document');
  assert.equal(a.perSource.fixture.documents, 40, 'documents left with no paragraph are dropped');
  for (const d of all.filter((x) => x.id.startsWith('fixture/'))) {
    assert.ok(a.parts.get(corpusPartOf(d.id))!.some((l) => l.includes(`"${d.id}"`)), `${d.id} is in its hashed part`);
  }
  assert.deepEqual(a.parts.get('other')!.map((l) => JSON.parse(l).id), ['other/1']);
});

test('Brown samples reserved for downstream tasks are in no corpus source', () => {
  const brown = corpusSources().find((s) => s.name === 'brown')!.docs().map((d) => d.id);
  const reserved = brownDocuments().map((d) => d.id).filter(brownReservedForTasks);
  assert.ok(reserved.length > 150 && reserved.length < 250, `${reserved.length} of 500 reserved (about 40%)`);
  for (const id of reserved) assert.ok(!brown.includes(id), id);
  assert.equal(brown.length + reserved.length, 500);
});

test('the cleaners: GCIDE entries lose pronunciations and markers, WordNet-only entries go; rST keeps prose', () => {
  const entry = 'Abandon \\A*ban"don\\ ([.a]*b[a^]n"d[u^]n), v. t.\n   1. To cast or drive out; to banish; to expel.\n      [1913 Webster]\n\n            That he might . . . abandon them from him. --Udall.\n      [1913 Webster]\n';
  const clean = cleanGcideEntry(entry)!;
  assert.match(clean, /^Abandon, v\. t\. 1\. To cast or drive out; to banish; to expel\./);
  assert.doesNotMatch(clean, /Webster|\\|\[a\^\]/);
  assert.equal(cleanGcideEntry('11th \\11th\\ adj.\n   1. coming next after the tenth in a series\n\n   Syn: eleventh\n        [WordNet 1.5]\n'), null);
  const rst = 'Title\n=====\n\nThe :func:`len` function returns the ``length`` of an object, for example::\n\n    >>> len([1, 2])\n    2\n\n.. note::\n\n   A directive body is prose too and is kept in the corpus text.\n';
  const prose = rstProse(rst);
  assert.match(prose, /^The len function returns the length of an object, for example:/);
  assert.doesNotMatch(prose, />>>|Title|=====|\.\. note/);
  assert.match(prose, /A directive body is prose too/);
});

test("a model's D^T / D^V follow its pretraining.json: the small corpus by default, the larger one when it says so, a clear error otherwise", () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-texts-'));
  try {
    const data = { dir: join(dir, 'data'), manifest: { version: 'data-x', files: { 'pretrain/dt.jsonl': { sha256: 'a'.repeat(64), bytes: 1, records: 1 }, 'pretrain/dv.jsonl': { sha256: 'b'.repeat(64), bytes: 1, records: 1 } }, notes: {} } } as never;
    // An intact larger corpus (its manifest matches its files), so nothing is rebuilt.
    const corpus = join(dir, 'corpus');
    mkdirSync(corpus);
    const files: Record<string, { sha256: string; bytes: number; records: number }> = {};
    for (const p of ['dt', 'dv']) {
      const text = `{"text":"${p} text"}\n`;
      writeFileSync(join(corpus, `${p}.jsonl`), text);
      files[`${p}.jsonl`] = { sha256: createHash('sha256').update(text).digest('hex'), bytes: text.length, records: 1 };
    }
    writeFileSync(join(corpus, 'manifest.json'), JSON.stringify({ version: CORPUS_VERSION, files, notes: { downstream_data: 'data-x' } }));
    const model = join(dir, 'model');
    mkdirSync(model);
    const where = { dirOf: (v: string) => (v === 'large' ? corpus : join(dir, 'no-such-corpus')), nlpDir: join(dir, 'no-nlp') };
    const small = pretrainingTexts(model, where, data);
    assert.equal(small.corpus, 'small');
    assert.equal(small.dv.path, join(dir, 'data', 'pretrain', 'dv.jsonl'));
    assert.equal(small.dt.sha256, 'a'.repeat(64));
    writeFileSync(join(model, 'pretraining.json'), JSON.stringify({ config: { corpus: 'large' } }));
    const large = pretrainingTexts(model, where, data);
    assert.equal(large.corpus, 'large');
    assert.equal(large.dt.path, join(corpus, 'dt.jsonl'));
    assert.equal(large.dv.sha256, files['dv.jsonl'].sha256);
    writeFileSync(join(model, 'pretraining.json'), JSON.stringify({ config: { corpus: 'huge' } }));
    assert.throws(() => pretrainingTexts(model, where, data), /pretraining\.json: config\.corpus must be one of "small", "large", "modern", got "huge"/);
    writeFileSync(join(model, 'pretraining.json'), '{');
    assert.throws(() => pretrainingTexts(model, where, data), /pretraining\.json: not valid JSON/);
    // A model of the modern corpus gets that variant's parts; building it needs nlp-corpus, and its absence is named.
    writeFileSync(join(model, 'pretraining.json'), JSON.stringify({ config: { corpus: 'modern' } }));
    assert.throws(() => pretrainingTexts(model, where, data), /no-nlp is missing: run scripts\/install-corpus-sources\.sh/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nlp-corpus: sentences grouped in file order (doc-2 before doc-10), one per line; the modern variant adds it; bad files are named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-nlp-'));
  try {
    const sentence = (f: number, i: number) => `Sentence ${i} of file ${f},\n  with   a line break.`;
    for (const f of [10, 2]) writeFileSync(join(dir, `doc-${f}.json`), JSON.stringify(Array.from({ length: 45 }, (_, i) => sentence(f, i))));
    writeFileSync(join(dir, 'README.md'), 'not a build file');
    const docs = nlpCorpusDocuments(dir);
    assert.deepEqual(docs.map((d) => d.id), ['nlp-corpus/doc-2/0', 'nlp-corpus/doc-2/1', 'nlp-corpus/doc-2/2', 'nlp-corpus/doc-10/0', 'nlp-corpus/doc-10/1', 'nlp-corpus/doc-10/2']);
    assert.deepEqual(docs.map((d) => d.text.split('\n').length), [20, 20, 5, 20, 20, 5]);
    assert.equal(docs[0].text.split('\n')[1], 'Sentence 1 of file 2, with a line break.');
    // Decontamination works per sentence: a contaminated sentence goes, its document stays.
    const grams = new Set<string>();
    addNgrams(downstream, 13, grams);
    const withTask = [{ ...docs[0], text: docs[0].text.replace('Sentence 3 of file 2, with a line break.', downstream) }];
    const built = assembleCorpus([{ name: 'nlp-corpus', docs: () => withTask }], grams);
    assert.deepEqual([built.perSource['nlp-corpus'].dropped, built.perSource['nlp-corpus'].kept, built.perSource['nlp-corpus'].documents], [1, 19, 1]);
    const modern = corpusSources({ variant: 'modern', nlpDir: dir });
    assert.deepEqual(modern.map((s) => s.name).slice(-2), ['moby-dick', 'nlp-corpus']);
    assert.equal(modern.at(-1)!.docs().length, 6);
    assert.ok(!corpusSources().some((s) => s.name === 'nlp-corpus'), 'the large variant (base-24\'s) is unchanged');
    assert.throws(() => corpusSources({ variant: 'modern' }), /modern corpus needs the nlp-corpus folder/);
    assert.notEqual(CORPUS_VERSIONS.modern, CORPUS_VERSIONS.large);
    writeFileSync(join(dir, 'doc-3.json'), '{"not": "an array"}');
    assert.throws(() => nlpCorpusDocuments(dir), /doc-3\.json: expected a JSON array of sentences/);
    writeFileSync(join(dir, 'doc-3.json'), '[');
    assert.throws(() => nlpCorpusDocuments(dir), /doc-3\.json: not valid JSON/);
    assert.throws(() => nlpCorpusDocuments(join(dir, 'absent')), /absent is missing: run scripts\/install-corpus-sources\.sh/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('corpus directories: one per variant under .cache/data; an empty override variable counts as unset', () => {
  const saved = [process.env.SCALEOT_CORPUS_DIR, process.env.SCALEOT_MODERN_CORPUS_DIR];
  try {
    process.env.SCALEOT_CORPUS_DIR = '';
    process.env.SCALEOT_MODERN_CORPUS_DIR = '';
    assert.equal(defaultCorpusDir('/r'), join('/r', '.cache', 'data', 'corpus-large-v1'));
    assert.equal(defaultCorpusDir('/r', 'modern'), join('/r', '.cache', 'data', 'corpus-modern-v1'));
    process.env.SCALEOT_MODERN_CORPUS_DIR = '/elsewhere';
    assert.equal(defaultCorpusDir('/r', 'modern'), '/elsewhere');
    assert.equal(defaultCorpusDir('/r', 'large'), join('/r', '.cache', 'data', 'corpus-large-v1'));
  } finally {
    const restore = (k: string, v: string | undefined) => (v === undefined ? delete process.env[k] : (process.env[k] = v));
    restore('SCALEOT_CORPUS_DIR', saved[0]);
    restore('SCALEOT_MODERN_CORPUS_DIR', saved[1]);
  }
});
