// Token streams for language-model training: JSONL documents ({"text"} per line) encoded
// and joined with a separator token, and random (input, target) windows drawn from them.
import { readFileSync } from 'node:fs';
import type { Rng } from '../util/rng.js';

export interface Encodes {
  encode(text: string): number[];
}

/**
 * The documents of a JSONL file as one token stream, with `separator` placed before each
 * document (GPT-2-style BOS/EOS prefix) or after it. Bad lines name the file and line.
 */
export function jsonlTokenStream(tok: Encodes, path: string, separator: number, placement: 'before' | 'after'): Int32Array {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  const ids: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let doc: unknown;
    try {
      doc = (JSON.parse(line) as { text?: unknown }).text;
    } catch (e) {
      throw new Error(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof doc !== 'string') throw new Error(`${path}:${i + 1}: expected {"text": string}`);
    if (placement === 'before') ids.push(separator);
    for (const t of tok.encode(doc)) ids.push(t);
    if (placement === 'after') ids.push(separator);
  });
  return Int32Array.from(ids);
}

/** B windows of T + 1 consecutive tokens at random offsets: inputs and next-token targets. */
export function randomWindows(stream: Int32Array, B: number, T: number, rng: Rng): { ids: Int32Array; targets: Int32Array } {
  const ids = new Int32Array(B * T), targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const s = rng.int(stream.length - T - 1);
    ids.set(stream.subarray(s, s + T), b * T);
    targets.set(stream.subarray(s + 1, s + T + 1), b * T);
  }
  return { ids, targets };
}
