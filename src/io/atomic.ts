// Writes that never leave a half-written file or directory behind: everything goes to a
// temporary name beside the target (same file system, so the rename is atomic) and is
// renamed into place only once complete. A crash leaves at most a stray "*.tmp-PID".
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';

/** The temporary name a write to `path` goes through (unique per process). */
export function temporaryName(path: string): string {
  return `${path}.tmp-${process.pid}`;
}

/** Writes text or bytes to a temporary name and renames it into place. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = temporaryName(path);
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Writes JSON (two-space indent, trailing newline) atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Fills a fresh temporary directory with `fill(tmp)` and then replaces `dir` with it. What
 * `fill` returns is returned; if it throws, the temporary directory is removed and `dir`
 * is left as it was.
 */
export function writeDirectoryAtomic<T>(dir: string, fill: (tmp: string) => T): T {
  const tmp = temporaryName(dir);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  let value: T;
  try {
    value = fill(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return value;
}
