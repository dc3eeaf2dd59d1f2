// Content hashes: sha256 of a file, of a directory's regular files, and the check of a
// package directory against the sha256 list in its manifest.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** sha256 of a file, read in 1 MiB pieces (a multi-GB checkpoint never sits in memory whole). */
export function sha256File(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** sha256 over a directory's regular files (name and file hash, in name order), e.g. a model. */
export function sha256Directory(dir: string, include: (name: string) => boolean = () => true): string {
  const h = createHash('sha256');
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (!statSync(p).isFile() || !include(name)) continue;
    h.update(name).update('\0').update(sha256File(p)).update('\0');
  }
  return h.digest('hex');
}

/** Files of a model directory that describe the model rather than define it. */
const DESCRIBES_THE_MODEL = /^(readme.*|.*\.md|licen[cs]e.*|training_log\.jsonl|pretraining\.json)$/i;

/**
 * A model directory's identity for the stage caches: its weights, configuration and
 * tokenizer files, not its model card, licence or training log — editing those must not
 * invalidate hours of cached and committed stages (it once did: the card of base-24 was
 * extended and every stage key of its re-run changed).
 */
export function modelIdentity(dir: string): string {
  return sha256Directory(dir, (name) => !DESCRIBES_THE_MODEL.test(name));
}

/** sha256 of every named file in `dir` that exists (names as given). */
export function sha256Files(dir: string, names: Iterable<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of names) if (existsSync(join(dir, f))) out[f] = sha256File(join(dir, f));
  return out;
}

/**
 * Checks every file a manifest lists against its sha256; errors (made by `fail`, so each
 * package type raises its own error class) name the directory and the file.
 */
export function verifyFiles(dir: string, files: Record<string, string>, fail: (message: string) => Error, what = 'altered or corrupt'): void {
  for (const [f, sum] of Object.entries(files)) {
    const path = join(dir, f);
    if (!existsSync(path)) throw fail(`${dir}: ${f} is listed in the manifest but missing`);
    if (sha256File(path) !== sum) throw fail(`${dir}: ${f} does not match its sha256 in the manifest (${what})`);
  }
}
