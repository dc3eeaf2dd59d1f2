// An experiment's tasks: built-in tasks or a user's files, their three splits (validation
// and test cut to the configured size), content hashes for the stage cache, and a line
// saying how they are scored.
import { readTask, loadTaskFile, Task } from '../data/tasks.js';
import { guardedSplits, splitGuard } from '../data/split_guard.js';
import type { BuiltData } from '../data/build.js';
import { sha256File } from '../io/hash.js';
import type { TaskSpec } from './config.js';

/** Perplexity documents cut to their first `chars` characters, at a white-space boundary. */
export function truncateDocuments(docs: string[], chars: number): string[] {
  const out: string[] = [];
  let left = chars;
  for (const d of docs) {
    if (left <= 0) break;
    if (d.length <= left) {
      out.push(d);
      left -= d.length;
      continue;
    }
    const cut = d.lastIndexOf(' ', left);
    out.push(d.slice(0, cut > 0 ? cut : left));
    break;
  }
  return out;
}

export interface LoadedTask {
  spec: TaskSpec;
  /** Loaded on first use; every read is recorded by the split guard (test: evaluation stages only). */
  splits: { readonly train: Task; readonly validation: Task; readonly test: Task };
  /** Content hashes of the three split files. */
  dataHash: Record<string, string>;
  evaluation: string;
}

export function loadTaskSpec(spec: TaskSpec, dataDir: string, data: BuiltData): LoadedTask {
  const splitNames = ['train', 'validation', 'test'] as const;
  const dataHash = Object.fromEntries(splitNames.map((s) => {
    if (spec.files) return [s, sha256File(spec.files[s])];
    const file = Object.keys(data.manifest.files).find((f) => f.startsWith(`${spec.name}/${s}.`));
    if (!file) throw new Error(`data manifest: no file for ${spec.name}/${s}`);
    return [s, data.manifest.files[file].sha256];
  }));
  const cut = (t: Task): Task => {
    if (t.kind === 'mc') return spec.evalLimit ? { ...t, items: t.items.slice(0, spec.evalLimit) } : t;
    return spec.evalChars ? { ...t, documents: truncateDocuments(t.documents, spec.evalChars) } : t;
  };
  const splits = guardedSplits(spec.name, (s): Task => {
    const raw = spec.files ? { ...loadTaskFile(spec.files[s]), name: spec.name } : readTask(spec.name, s, dataDir);
    return s === 'train' ? raw : cut(raw);
  });
  const kind = splits.validation.kind;
  // The test split's size, for the report's description only: no score and no choice is made.
  const testItems = kind === 'mc' ? splitGuard.during(`describe ${spec.name}'s test split`, 'evaluation', () => (splits.test.kind === 'mc' ? splits.test.items.length : 0)) : 0;
  const evaluation = kind === 'mc'
    ? `${testItems} test items${spec.evalLimit ? ` (first ${spec.evalLimit} of the hashed order)` : ' (all)'}`
    : `${spec.evalChars ? `first ${spec.evalChars.toLocaleString('en-US')} characters of each split` : 'whole split'}, rolling windows`;
  return { spec, splits, dataHash, evaluation };
}
