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
export function jsonlTokenStream(tok: Encodes, path: string, separator: number, placement: 'before' | 'after', keep?: (id: string) => boolean): Int32Array {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  const ids: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let rec: { text?: unknown; id?: unknown };
    try {
      rec = JSON.parse(line) as { text?: unknown; id?: unknown };
    } catch (e) {
      throw new Error(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    const doc = rec.text;
    if (typeof doc !== 'string') throw new Error(`${path}:${i + 1}: expected {"text": string}`);
    if (keep) {
      if (typeof rec.id !== 'string') throw new Error(`${path}:${i + 1}: expected {"id": string} (choosing documents by source needs their ids)`);
      if (!keep(rec.id)) return;
    }
    if (placement === 'before') ids.push(separator);
    for (const t of tok.encode(doc)) ids.push(t);
    if (placement === 'after') ids.push(separator);
  });
  return Int32Array.from(ids);
}

/**
 * B windows as randomWindows draws them, each from one of several streams chosen with
 * probability `share` (shares sum to 1): a fixed mixture of sources whatever their sizes.
 */
export function mixedWindows(streams: { share: number; stream: Int32Array }[], B: number, T: number, rng: Rng): { ids: Int32Array; targets: Int32Array } {
  return drawWindows(B, T, rng, () => {
    let u = rng.uniform();
    return (streams.find((s) => (u -= s.share) < 0) ?? streams[streams.length - 1]).stream;
  });
}

/** B windows of T + 1 consecutive tokens at random offsets: inputs and next-token targets. */
export function randomWindows(stream: Int32Array, B: number, T: number, rng: Rng): { ids: Int32Array; targets: Int32Array } {
  return drawWindows(B, T, rng, () => stream);
}

/** One window per row, from the stream `streamFor` gives for that row, at a random offset. */
function drawWindows(B: number, T: number, rng: Rng, streamFor: () => Int32Array): { ids: Int32Array; targets: Int32Array } {
  const ids = new Int32Array(B * T), targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const stream = streamFor();
    const s = rng.int(stream.length - T - 1);
    ids.set(stream.subarray(s, s + T), b * T);
    targets.set(stream.subarray(s + 1, s + T + 1), b * T);
  }
  return { ids, targets };
}
