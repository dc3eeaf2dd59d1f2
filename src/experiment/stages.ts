// Stage caching for the experiment runner. Every stage (zero-shot scores, fine-tuning,
// importance, an emulator, a tuning run, a plug-in score) lives in a directory named by
// the hash of everything that determines its output: the stage kind and version, the
// content hashes of its inputs (model files, data files, upstream stages) and its settings.
// A stage whose directory holds `done.json` is reused by any experiment that needs it; a
// directory without it is an interrupted stage: resumed from its own checkpoints with
// --resume, otherwise cleared and started again.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';

/** Bumped when a stage's code changes what it computes, so old results are not reused. */
export const STAGE_VERSION = 2;

/** JSON with object keys sorted, so equal settings hash equally. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function hashOf(v: unknown): string {
  return createHash('sha256').update(canonicalJson(v)).digest('hex');
}

export interface StageInfo<T> {
  key: string;
  dir: string;
  value: T;
  /** True when the result came from the cache. */
  cached: boolean;
}

export class StageCache {
  readonly hits: string[] = [];
  readonly runs: string[] = [];
  constructor(readonly root: string, readonly resume: boolean, readonly log: (s: string) => void) {
    mkdirSync(root, { recursive: true });
  }

  /**
   * Runs `compute(dir)` for the stage identified by (kind, inputs) unless it is done; its
   * JSON result is kept in done.json. Returns the key (a content hash for downstream stages).
   */
  run<T>(kind: string, inputs: unknown, label: string, compute: (dir: string) => T): StageInfo<T> {
    const key = hashOf({ kind, version: STAGE_VERSION, inputs });
    const dir = join(this.root, `${kind}-${key.slice(0, 16)}`);
    const done = join(dir, 'done.json');
    if (existsSync(done)) {
      this.hits.push(label);
      const record = JSON.parse(readFileSync(done, 'utf8')) as { value: T };
      return { key, dir, value: record.value, cached: true };
    }
    if (existsSync(dir) && !this.resume) {
      this.log(`${label}: clearing an interrupted earlier run (pass --resume to continue it instead)`);
      rmSync(dir, { recursive: true, force: true });
    } else if (existsSync(dir)) {
      this.log(`${label}: resuming an interrupted run`);
    }
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(join(dir, 'inputs.json'), JSON.stringify({ kind, version: STAGE_VERSION, label, inputs }, null, 2));
    const t0 = Date.now();
    const value = compute(dir);
    const seconds = (Date.now() - t0) / 1000;
    writeFileAtomic(done, JSON.stringify({ label, seconds, value }, null, 2));
    this.runs.push(label);
    return { key, dir, value, cached: false };
  }
}
