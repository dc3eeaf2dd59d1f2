// Trains a GPT-2-style byte-level BPE on a corpus and returns it as a tokenizer.json
// object (loadable by TextTokenizer like any Hugging Face checkpoint's). Pre-tokenisation
// is GPT-2's regular expression over text mapped byte-to-unicode; merges are learned
// greedily by pair frequency (ties broken by the pair's string, so training is
// deterministic), with incremental pair-count updates so a few MB train in seconds.
import { byteLevelTokenizerJson } from './tokenizer.js';

/** GPT-2's pre-tokenisation pattern (tokenizers' ByteLevel with use_regex). */
const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100.. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = '!'.charCodeAt(0); b <= '~'.charCodeAt(0); b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const map = new Array<string>(256);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  bs.forEach((b, i) => (map[b] = String.fromCodePoint(cs[i])));
  return map;
}

export interface TrainBpeOptions {
  /** Total vocabulary including the 256 byte symbols and the special tokens. */
  vocabSize: number;
  /** Added after the learned tokens, in order (GPT-2: ["<|endoftext|>"]). */
  specialTokens?: string[];
  /** Pairs seen fewer times than this are never merged. */
  minFrequency?: number;
  onProgress?: (merges: number, total: number) => void;
}

// This function reads better whole: the merge loop and the pair counts it updates in
// place share state that helper functions would have to pass back and forth.
export function trainByteLevelBpe(texts: Iterable<string>, opts: TrainBpeOptions): Record<string, unknown> {
  const special = opts.specialTokens ?? ['<|endoftext|>'];
  const targetMerges = opts.vocabSize - 256 - special.length;
  if (targetMerges < 0) throw new RangeError(`trainByteLevelBpe: vocabulary ${opts.vocabSize} is smaller than 256 bytes + ${special.length} special tokens`);
  const b2u = bytesToUnicode();
  const encoder = new TextEncoder();

  // Word frequencies over the byte-mapped pre-tokens.
  const freq = new Map<string, number>();
  for (const text of texts) {
    for (const m of text.matchAll(GPT2_PATTERN)) {
      const w = Array.from(encoder.encode(m[0]), (b) => b2u[b]).join('');
      freq.set(w, (freq.get(w) ?? 0) + 1);
    }
  }
  // Each distinct word as a list of symbols; symbols are interned to ints.
  const symbols: string[] = [];
  const symId = new Map<string, number>();
  const intern = (s: string) => {
    let id = symId.get(s);
    if (id === undefined) {
      id = symbols.length;
      symbols.push(s);
      symId.set(s, id);
    }
    return id;
  };
  for (let b = 0; b < 256; b++) intern(b2u[b]);
  const sortedWords = [...freq.keys()].sort();
  const words: number[][] = sortedWords.map((w) => Array.from(w, (ch) => intern(ch)));
  const counts = sortedWords.map((w) => freq.get(w)!);

  // Pair statistics: count, and the words each pair occurs in.
  const key = (a: number, b: number) => a * 1_000_003 + b;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  // Max-heap of (count, pair) with lazy deletion: an entry is live while its count is
  // still the pair's current count. Ties pop in the order of the pair's text.
  const heap = new PairHeap((k) => symbols[Math.floor(k / 1_000_003)] + ' ' + symbols[k % 1_000_003]);
  const touched = new Set<number>();
  const addWord = (wi: number, sign: number) => {
    const w = words[wi];
    for (let i = 0; i + 1 < w.length; i++) {
      const k = key(w[i], w[i + 1]);
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * counts[wi]);
      touched.add(k);
      if (sign > 0) {
        let s = pairWords.get(k);
        if (!s) pairWords.set(k, (s = new Set()));
        s.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addWord(wi, 1);
  const flush = () => {
    for (const k of touched) {
      const c = pairCount.get(k) ?? 0;
      if (c > 0) heap.push(c, k);
      else pairCount.delete(k);
    }
    touched.clear();
  };
  flush();

  const merges: string[] = [];
  const minFreq = opts.minFrequency ?? 2;
  for (let m = 0; m < targetMerges; m++) {
    // The most frequent pair; ties by the merged pair's text (deterministic).
    let bestK = -1, bestC = 0;
    while (heap.size > 0) {
      const [c, k] = heap.pop();
      if (pairCount.get(k) === c) {
        bestK = k;
        bestC = c;
        break;
      }
    }
    if (bestK < 0 || bestC < minFreq) break;
    const bestText = symbols[Math.floor(bestK / 1_000_003)] + ' ' + symbols[bestK % 1_000_003];
    const a = Math.floor(bestK / 1_000_003), b = bestK % 1_000_003;
    const merged = intern(symbols[a] + symbols[b]);
    merges.push(bestText);
    for (const wi of [...(pairWords.get(bestK) ?? [])]) {
      const w = words[wi];
      addWord(wi, -1);
      const next: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          next.push(merged);
          i++;
        } else next.push(w[i]);
      }
      words[wi] = next;
      addWord(wi, 1);
    }
    pairCount.delete(bestK);
    pairWords.delete(bestK);
    touched.delete(bestK);
    flush();
    if (opts.onProgress && (m % 500 === 0 || m === targetMerges - 1)) opts.onProgress(m + 1, targetMerges);
  }

  // Vocabulary: the 256 byte symbols, then merges in order, then the special tokens.
  const vocab: Record<string, number> = {};
  let next = 0;
  for (let b = 0; b < 256; b++) vocab[b2u[b]] = next++;
  for (const mg of merges) {
    const tok = mg.replace(' ', '');
    if (!(tok in vocab)) vocab[tok] = next++;
  }
  const addedTokens = special.map((content) => {
    const id = next++;
    vocab[content] = id;
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  });
  return byteLevelTokenizerJson(vocab, merges, addedTokens);
}

/** Binary max-heap on (count desc, text asc) of pair keys. */
class PairHeap {
  private readonly counts: number[] = [];
  private readonly keys: number[] = [];
  private readonly texts: string[] = [];
  constructor(private readonly textOf: (k: number) => string) {}

  get size(): number {
    return this.keys.length;
  }

  private above(i: number, j: number): boolean {
    return this.counts[i] > this.counts[j] || (this.counts[i] === this.counts[j] && this.texts[i] < this.texts[j]);
  }

  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j], this.counts[i]];
    [this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]];
    [this.texts[i], this.texts[j]] = [this.texts[j], this.texts[i]];
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    this.texts.push(this.textOf(key));
    let i = this.keys.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const last = this.keys.length - 1;
    this.swap(0, last);
    this.counts.pop();
    this.keys.pop();
    this.texts.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < this.keys.length && this.above(l, m)) m = l;
      if (r < this.keys.length && this.above(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}
