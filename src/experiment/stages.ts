// Stage caching for the experiment runner. Every stage (zero-shot scores, fine-tuning,
// importance, an emulator, a tuning run, a plug-in score) lives in a directory named by
// the hash of everything that determines its output: the stage kind and version, the
// content hashes of its inputs (model files, data files, upstream stages), its settings
// and the matrix-product precision. A stage whose directory holds `done.json` is reused by
// any experiment that needs it; a directory without it is an interrupted stage: resumed
// from its own checkpoints with --resume, otherwise cleared and started again.
//
// Two things make long runs safe:
// - A lock per stage (`<dir>.lock`, created exclusively): several processes on one
//   configuration (or the service's worker) never compute the same stage twice or read a
//   half-written one; a waiting process takes the result when the holder finishes, and a
//   lock whose process has died (same host) is taken over.
// - A ledger (optional): the small JSON result of every finished stage is also written to a
//   directory that is committed with the results. The cache is not in git, and a run may
//   resume on a fresh machine: a stage found in the ledger is done, and its heavy artifacts
//   (emulator package, adapter, importance harmonizers) are rebuilt — by the same
//   deterministic computation — only when an unfinished downstream stage asks for them
//   (`StageInfo.materialize()`).
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';

/**
 * Bumped when a stage's code changes what it computes, so old results are not reused.
 * 3: AdamW bias correction per parameter, CRaSh on 256 windows, distillation budget equal
 * to the harmonizers', baseline adapters following N_a, precision in every key.
 */
export const STAGE_VERSION = 3;

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
  /** True when the result came from the cache or the ledger. */
  cached: boolean;
  /** Wall time of the computation that produced the result (whenever it ran). */
  seconds: number;
  /**
   * The stage's directory with its artifacts in place: immediate for a computed or cached
   * stage; a stage known only from the ledger is computed again (deterministically) first.
   */
  materialize(): string;
}

interface DoneRecord<T> {
  label: string;
  seconds: number;
  value: T;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
const sleepMs = (ms: number): void => void Atomics.wait(sleepCell, 0, 0, ms);

/** Whether a process with this pid exists on this host (signal 0 checks without sending). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface StageCacheOptions {
  /** Committed results: `<kind>-<key16>.json` per finished stage (small JSON only). */
  ledgerDir?: string;
  /** Other experiments' ledgers, read only: a stage found there is done (not copied). */
  readLedgers?: string[];
  /** Part of every key: results computed with bf16 matrix products are not fp32 results. */
  precision?: 'fp32' | 'bf16';
  /** How often a waiting process looks at a held lock. */
  pollMs?: number;
}

export class StageCache {
  readonly hits: string[] = [];
  readonly runs: string[] = [];
  /** Every distinct stage this process has looked up, and whether it was already done (progress counts stages, not lookups). */
  private readonly visited = new Map<string, { cached: boolean; seconds: number }>();
  /** Stages served from the ledger whose artifacts had to be rebuilt. */
  readonly rebuilt: string[] = [];
  /** Rebuilt stages whose recomputed result was not identical to the committed one. */
  readonly rebuiltDiffering: string[] = [];
  private readonly ledgerDir?: string;
  private readonly readLedgers: string[];
  private readonly precision: 'fp32' | 'bf16';
  private readonly pollMs: number;

  constructor(readonly root: string, readonly resume: boolean, readonly log: (s: string) => void, opts: StageCacheOptions = {}) {
    mkdirSync(root, { recursive: true });
    this.ledgerDir = opts.ledgerDir;
    this.readLedgers = opts.readLedgers ?? [];
    this.precision = opts.precision ?? 'fp32';
    this.pollMs = opts.pollMs ?? 500;
    if (this.ledgerDir) mkdirSync(this.ledgerDir, { recursive: true });
  }

  /**
   * Runs `compute(dir)` for the stage identified by (kind, inputs) unless it is done; its
   * JSON result is kept in done.json (and the ledger). Returns the key (a content hash for
   * downstream stages).
   */
  run<T>(kind: string, inputs: unknown, label: string, compute: (dir: string) => T): StageInfo<T> {
    const key = hashOf({ kind, version: STAGE_VERSION, precision: this.precision, inputs });
    const name = `${kind}-${key.slice(0, 16)}`;
    const dir = join(this.root, name);
    const done = join(dir, 'done.json');
    const own = this.ledgerDir ? join(this.ledgerDir, `${name}.json`) : null;
    // The committed record, looked up once: this experiment's ledger first, then the ones it
    // reads; only its own is ever written.
    const committed = [own, ...this.readLedgers.map((d) => join(d, `${name}.json`))].find((f): f is string => !!f && existsSync(f));
    const info = (r: { value: T; seconds: number }, cached: boolean, materialize: () => string): StageInfo<T> => ({ key, dir, value: r.value, seconds: r.seconds, cached, materialize });

    if (existsSync(done)) {
      this.hits.push(label);
      const record = JSON.parse(readFileSync(done, 'utf8')) as DoneRecord<T>;
      this.visit(key, true, record.seconds);
      if (own && !committed) writeFileAtomic(own, JSON.stringify(record, null, 2) + '\n');
      return info(record, true, () => dir);
    }
    if (committed) {
      this.hits.push(label);
      const record = JSON.parse(readFileSync(committed, 'utf8')) as DoneRecord<T>;
      this.visit(key, true, record.seconds);
      return info(record, true, () => {
        if (!existsSync(done)) {
          this.log(`${label}: done (committed result); rebuilding its artifacts for a downstream stage`);
          // The committed record stays as it is: it holds the original run's wall time (a
          // rebuild on another machine would overwrite the cost the report lists), and it
          // is the result every downstream stage has already been given.
          const rebuilt = this.compute(kind, key, label, inputs, dir, done, null, compute);
          this.rebuilt.push(label);
          if (canonicalJson(rebuilt.record.value) !== canonicalJson(record.value)) {
            // Deterministic on one machine and kernel set; another CPU's kernels may sum in
            // another order. Downstream stages then use artifacts that differ from the
            // committed result by that much, which the run's log must show.
            this.rebuiltDiffering.push(label);
            this.log(`${label}: the rebuilt result differs from the committed one (other kernels or machine); the committed result is kept, the rebuilt artifacts are used`);
          }
        }
        return dir;
      });
    }
    const out = this.compute(kind, key, label, inputs, dir, done, own, compute);
    this.visit(key, out.cached, out.record.seconds);
    return info(out.record, out.cached, () => dir);
  }

  private visit(key: string, cached: boolean, seconds: number): void {
    if (!this.visited.has(key)) this.visited.set(key, { cached, seconds });
  }

  /** Distinct stages looked up so far, and how many of them were done before (for progress). */
  distinctStages(): { done: number; free: number } {
    let free = 0;
    for (const v of this.visited.values()) if (v.cached) free++;
    return { done: this.visited.size, free };
  }

  /**
   * The wall time the distinct stages looked up took when they were computed, as their
   * records hold it (whichever session or machine computed them): what the whole experiment
   * cost, where a resumed run's own wall time counts only its part.
   */
  recordedSeconds(): number {
    let s = 0;
    for (const v of this.visited.values()) s += Number.isFinite(v.seconds) ? v.seconds : 0;
    return Math.round(s);
  }

  /** Computes a stage under its lock; another process's finished result is taken as is. */
  private compute<T>(kind: string, key: string, label: string, inputs: unknown, dir: string, done: string, ledger: string | null, compute: (dir: string) => T): { record: DoneRecord<T>; cached: boolean } {
    const release = this.lock(dir, label);
    try {
      if (existsSync(done)) {
        // Another process finished it while we waited for the lock.
        this.hits.push(label);
        return { record: JSON.parse(readFileSync(done, 'utf8')) as DoneRecord<T>, cached: true };
      }
      if (existsSync(dir) && !this.resume) {
        this.log(`${label}: clearing an interrupted earlier run (pass --resume to continue it instead)`);
        rmSync(dir, { recursive: true, force: true });
      } else if (existsSync(dir)) {
        this.log(`${label}: resuming an interrupted run`);
      }
      mkdirSync(dir, { recursive: true });
      writeFileAtomic(join(dir, 'inputs.json'), JSON.stringify({ kind, version: STAGE_VERSION, precision: this.precision, key, label, inputs }, null, 2));
      const t0 = Date.now();
      const value = compute(dir);
      const record: DoneRecord<T> = { label, seconds: (Date.now() - t0) / 1000, value };
      writeFileAtomic(done, JSON.stringify(record, null, 2));
      if (ledger) writeFileAtomic(ledger, JSON.stringify(record, null, 2) + '\n');
      this.runs.push(label);
      return { record, cached: false };
    } finally {
      release();
    }
  }

  /**
   * Takes `<dir>.lock` (exclusive create), waiting while another live process holds it.
   * Returns the release function.
   */
  private lock(dir: string, label: string): () => void {
    const path = `${dir}.lock`;
    const me = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    let told = false;
    for (;;) {
      try {
        const fd = openSync(path, 'wx');
        writeSync(fd, JSON.stringify(me));
        closeSync(fd);
        return () => rmSync(path, { force: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let holder: { pid?: number; host?: string } = {};
      try {
        holder = JSON.parse(readFileSync(path, 'utf8')) as typeof holder;
      } catch {
        // Created but not yet written, or just removed: look again.
      }
      if (holder.pid !== undefined && holder.host === me.host && !processAlive(holder.pid)) {
        this.log(`${label}: taking over the lock of process ${holder.pid}, which is gone`);
        rmSync(path, { force: true });
        continue;
      }
      if (!told && holder.pid !== undefined) {
        this.log(`${label}: waiting for process ${holder.pid}${holder.host === me.host ? '' : ` on ${holder.host}`}, which is computing this stage`);
        told = true;
      }
      sleepMs(this.pollMs);
    }
  }
}
