// A long run's step log (training_log.jsonl: one JSON object per line, each with its
// `step`) is appended as the run goes, but its resumable state is saved only every few
// steps. A run killed between two checkpoints has logged steps that the resumed run does
// again, and may have left a half-written last line; resuming must cut the log back to
// the checkpoint, or those steps appear twice.
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';

/**
 * Cuts the step log at `path` back to the entries with step ≤ `step` (the checkpoint the
 * run resumes from), rewriting it atomically, and returns the last entry kept (undefined
 * when none, or when there is no log). A last line that does not parse is what a kill
 * mid-append leaves and is dropped; any other line that does not parse, or an entry
 * without a numeric step, is an error naming the file and line.
 */
export function cutStepLogAt(path: string, step: number): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  const lines = readFileSync(path, 'utf8').split('\n');
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  const kept: string[] = [];
  let last: Record<string, unknown> | undefined;
  for (let i = 0; i < lines.length; i++) {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(lines[i]) as Record<string, unknown>;
    } catch {
      if (i === lines.length - 1) break; // half-written by a kill
      throw new Error(`${path}: line ${i + 1} is not JSON (expected one step entry per line)`);
    }
    if (typeof entry !== 'object' || entry === null || typeof entry.step !== 'number') {
      throw new Error(`${path}: line ${i + 1} has no numeric "step"`);
    }
    if (entry.step > step) continue;
    kept.push(lines[i]);
    last = entry;
  }
  writeFileAtomic(path, kept.length ? kept.join('\n') + '\n' : '');
  return last;
}
