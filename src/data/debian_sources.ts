// Raw English text from Debian packages (installed by scripts/install-corpus-sources.sh,
// see DATA.md): the Collaborative International Dictionary of English (GCIDE: Webster's
// 1913 with its literary quotations), the Jargon File and FOLDOC (dictd format), the King
// James Bible (through the `bible` tool of bible-kjv) and the fortune files. Every reader
// returns documents in a fixed order, so builds are reproducible; a missing package is an
// error that names it.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Document } from './sources.js';

export const DICTD_DIR = '/usr/share/dictd';
export const FORTUNE_DIR = '/usr/share/games/fortunes';
export const PYTHON_DOCS = '/usr/share/doc/python3.11/html/_sources';

/** A Debian source: the package to install, the file that shows it is installed, its licence. */
export interface DebianSource {
  name: string;
  package: string;
  path: string;
  licence: string;
}

export const DEBIAN_SOURCES: DebianSource[] = [
  { name: 'gcide', package: 'dict-gcide', path: join(DICTD_DIR, 'gcide.dict.dz'), licence: 'GPL-2+ (GCIDE; derived from Webster 1913, public domain)' },
  { name: 'jargon', package: 'dict-jargon', path: join(DICTD_DIR, 'jargon.dict.dz'), licence: 'public domain' },
  { name: 'foldoc', package: 'dict-foldoc', path: join(DICTD_DIR, 'foldoc.dict.dz'), licence: 'GFDL-1.1+' },
  { name: 'bible', package: 'bible-kjv', path: '/usr/bin/bible', licence: 'text public domain (packaging GPL-2+)' },
  { name: 'fortunes', package: 'fortunes', path: join(FORTUNE_DIR, 'literature'), licence: 'BSD-style, mixed (per-file attributions)' },
  { name: 'python-docs', package: 'python3.11-doc', path: PYTHON_DOCS, licence: 'PSF License Version 2 (Python documentation)' },
];

export function requireSource(name: string): DebianSource {
  const s = DEBIAN_SOURCES.find((x) => x.name === name);
  if (!s) throw new Error(`unknown Debian text source "${name}"`);
  if (!existsSync(s.path)) throw new Error(`${s.path} is missing: install Debian's ${s.package} (scripts/install-corpus-sources.sh)`);
  return s;
}

// ---------------------------------------------------------------- dictd databases

/** dictd's index numbers: base64 digits, most significant first. */
function b64Number(s: string): number {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let v = 0;
  for (const ch of s) v = v * 64 + alphabet.indexOf(ch);
  return v;
}

/** Every entry of a dictd database (headword, raw text), in file order, without the 00-database entries. */
export function dictdEntries(name: string): { headword: string; offset: number; text: string }[] {
  const dict = gunzipSync(readFileSync(join(DICTD_DIR, `${name}.dict.dz`)));
  const seen = new Set<number>();
  const out: { headword: string; offset: number; text: string }[] = [];
  for (const line of readFileSync(join(DICTD_DIR, `${name}.index`), 'utf8').split('\n')) {
    const [headword, off, len] = line.split('\t');
    if (!len || headword.startsWith('00-database') || headword.startsWith('00database')) continue;
    const offset = b64Number(off);
    if (seen.has(offset)) continue; // several headwords may point at one entry
    seen.add(offset);
    out.push({ headword, offset, text: dict.subarray(offset, offset + b64Number(len)).toString('utf8') });
  }
  return out.sort((a, b) => a.offset - b.offset);
}

/** GCIDE's character codes ([a^], ['e], [ae], [oe], [aum]) as plain letters. */
function gcideLetters(s: string): string {
  return s
    .replace(/\[ae\]/g, 'æ').replace(/\[AE\]/g, 'Æ').replace(/\[oe\]/g, 'œ').replace(/\[OE\]/g, 'Œ')
    .replace(/\[([a-zA-Z])um\]/g, '$1')
    .replace(/\[[\^'`"=.~,]*([a-zA-Z])[\^'`"=.~,]*\]/g, '$1');
}

/** Paragraphs (blank-line separated) with their wrapped lines joined and spaces collapsed. */
function paragraphs(text: string): string[] {
  return text.split(/\n\s*\n/).map((p) => p.replace(/\s+/g, ' ').trim()).filter((p) => p.length > 0);
}

/**
 * One GCIDE entry as readable text, or null for entries that come from WordNet only (they
 * repeat WordNet's glosses, which downstream tasks are built from). Pronunciations and
 * source markers ("[1913 Webster]") go; senses, etymologies and quotations stay.
 */
export function cleanGcideEntry(raw: string): string | null {
  const webster = /\[(1913 Webster|Webster 1913|Century|Chambers|Webster)/.test(raw);
  if (/\[WordNet/.test(raw) && !webster) return null;
  const lines = raw.split('\n').filter((l) => !/^\s*\[[^\]]*\]\s*$/.test(l)); // source-marker lines
  const text = lines.join('\n')
    .replace(/\\[^\\\n]*\\/g, '') // \A*ban"don\ pronunciations
    .replace(/\(([^()]*[[\]"*`][^()]*)\)/, '') // the phonetic respelling after the headword
    .replace(/[{}]/g, '')
    .replace(/\s*\[[^\]\n]*(Webster|WordNet|PJC|Century|Chambers|Dict\.)[^\]\n]*\]/g, ''); // inline source markers
  const paras = paragraphs(gcideLetters(text)).map((p) => p.replace(/\s+([,;.])/g, '$1'));
  return paras.length ? paras.join('\n') : null;
}

/** A Jargon File or FOLDOC entry: its paragraphs, cross-reference braces and dates removed. */
export function cleanGlossaryEntry(raw: string): string | null {
  const paras = paragraphs(raw.replace(/[{}]/g, '')).filter((p) => !/^\(\d{4}-\d{2}-\d{2}\)$/.test(p));
  return paras.length > 1 || (paras[0]?.length ?? 0) > 40 ? paras.join('\n') : null;
}

export function dictionaryDocuments(name: 'gcide' | 'jargon' | 'foldoc'): Document[] {
  requireSource(name);
  const clean = name === 'gcide' ? cleanGcideEntry : cleanGlossaryEntry;
  const out: Document[] = [];
  for (const e of dictdEntries(name)) {
    const text = clean(e.text);
    if (text && text.length >= 20) out.push({ id: `${name}/${e.offset}`, text });
  }
  return out;
}

// ---------------------------------------------------------------- the King James Bible

/** One document per chapter, verses joined ("Ge1:1 In the beginning ..." lines from `bible -f`). */
export function bibleChapters(): Document[] {
  const { path } = requireSource('bible');
  const dump = execFileSync(path, ['-f', 'gen1:1-rev22:21'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const chapters = new Map<string, string[]>();
  for (const line of dump.split('\n')) {
    const m = /^(\w+?)(\d+):(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const key = `${m[1]}${m[2]}`;
    if (!chapters.has(key)) chapters.set(key, []);
    chapters.get(key)!.push(m[4].trim());
  }
  return [...chapters].map(([key, verses]) => ({ id: `bible/${key}`, text: verses.join(' ') }));
}

// ---------------------------------------------------------------- fortunes

/**
 * The fortune files kept: prose and quotations. Left out: ASCII art, the Debian/Linux
 * cookie files (mostly IRC logs), and the files of ethnic and sexual jokes.
 */
export const FORTUNE_FILES = [
  'computers', 'cookie', 'definitions', 'education', 'food', 'fortunes', 'goedel', 'humorists', 'kids', 'law',
  'literature', 'love', 'magic', 'medicine', 'miscellaneous', 'news', 'paradoxum', 'people', 'pets', 'platitudes',
  'politics', 'pratchett', 'riddles', 'science', 'songs-poems', 'sports', 'wisdom', 'work',
];

/** Fortunes grouped 20 to a document, per file. */
export function fortuneDocuments(): Document[] {
  requireSource('fortunes');
  const out: Document[] = [];
  for (const file of FORTUNE_FILES.filter((f) => existsSync(join(FORTUNE_DIR, f))).sort()) {
    const items = readFileSync(join(FORTUNE_DIR, file), 'utf8').split(/\n%\n/).map((f) => f.trim()).filter((f) => f.length > 0);
    for (let i = 0; i < items.length; i += 20) out.push({ id: `fortunes/${file}/${i / 20}`, text: items.slice(i, i + 20).join('\n') });
  }
  return out;
}

/** The fortune files present (for the manifest). */
export function fortuneFilesPresent(): string[] {
  return existsSync(FORTUNE_DIR) ? readdirSync(FORTUNE_DIR).filter((f) => FORTUNE_FILES.includes(f)).sort() : [];
}

// ---------------------------------------------------------------- Python documentation

/**
 * The prose of a reStructuredText page, including the indented bodies of directives (the
 * descriptions of functions and classes): literal blocks (after "::" or a code directive),
 * interpreter sessions, directive and comment lines, section underlines and tables go;
 * inline markup keeps its text.
 */
export function rstProse(rst: string): string {
  const kept: string[] = [];
  let literalIndent = -1; // inside a literal block: lines indented deeper than this are code
  let pendingLiteral = false;
  for (const line of rst.split('\n')) {
    const indent = line.length - line.trimStart().length;
    const body = line.trim();
    if (body === '') {
      kept.push('');
      continue;
    }
    if (literalIndent >= 0 && indent > literalIndent) continue;
    literalIndent = -1;
    if (pendingLiteral) {
      pendingLiteral = false;
      literalIndent = indent - 1;
      continue;
    }
    const directive = /^\.\.\s/.test(body);
    if (/^\.\. (code-block|sourcecode|doctest|testcode|testoutput|productionlist|highlight|literalinclude)::/.test(body) || (!directive && body.endsWith('::'))) {
      pendingLiteral = true;
      literalIndent = indent;
    }
    if (directive || body.startsWith('>>>') || body.startsWith('... ') || /^([=\-~^"'`#*+<>_:.])\1{2,}$/.test(body) || /^[+|]/.test(body)) {
      kept.push('');
      continue;
    }
    kept.push(body
      .replace(/:[\w:.-]+:`(?:[^`<]*<)?([^`>]*)>?`/g, '$1') // :func:`name`, :ref:`text <target>`
      .replace(/`([^`<]+?)\s*<[^`>]+>`_+/g, '$1') // `text <url>`_
      .replace(/``([^`]+)``/g, '$1')
      .replace(/`([^`]+)`_*/g, '$1')
      .replace(/\*\*([^*]+)\*\*|\*([^*]+)\*/g, '$1$2')
      .replace(/::$/, ':')
      .replace(/(^|\s)[!~]/g, '$1'));
  }
  return kept.join('\n').split(/\n\s*\n/).map((p) => p.replace(/\s+/g, ' ').trim())
    .filter((p) => p.split(' ').length >= 8 && /[a-z]/.test(p)).join('\n');
}

/** One document per page of the Python 3.11 documentation (prose only; no changelogs). */
export function pythonDocs(): Document[] {
  requireSource('python-docs');
  const pages: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        if (name !== 'whatsnew') walk(p);
      } else if (name.endsWith('.rst.txt')) pages.push(p);
    }
  };
  walk(PYTHON_DOCS);
  return pages.map((p) => ({ id: `python-docs/${p.slice(PYTHON_DOCS.length + 1)}`, text: rstProse(readFileSync(p, 'utf8')) })).filter((d) => d.text.length > 200);
}
