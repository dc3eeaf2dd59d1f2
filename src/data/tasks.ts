// Tasks by name (the built-in datasets of build.ts) or from users' files:
//   language modelling: plain text (one document), or JSONL lines {"text": ...}
//   multiple choice:    JSONL lines {"context": ..., "choices": [...], "label": i}
// A malformed line is reported with its file and line number.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MC_TASKS, LM_TASKS, Split, SPLITS } from './build.js';
import type { MultipleChoiceItem } from '../eval/multiple_choice.js';
import { splitGuard } from './split_guard.js';

export class TaskError extends Error {
  override name = 'TaskError';
}

export type Task =
  | { kind: 'mc'; name: string; items: MultipleChoiceItem[] }
  | { kind: 'lm'; name: string; documents: string[] };

export const BUILTIN_TASKS: readonly string[] = [...LM_TASKS, ...MC_TASKS];

function parseJsonl(path: string): { line: number; value: unknown }[] {
  const text = readFileSync(path, 'utf8');
  const out: { line: number; value: unknown }[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    try {
      out.push({ line: i + 1, value: JSON.parse(raw) });
    } catch (e) {
      throw new TaskError(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
  });
  if (out.length === 0) throw new TaskError(`${path}: no records`);
  return out;
}

function mcItem(path: string, line: number, v: unknown): MultipleChoiceItem {
  const where = `${path}:${line}`;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TaskError(`${where}: expected an object {"context", "choices", "label"}`);
  const { context, choices, label } = v as Record<string, unknown>;
  if (typeof context !== 'string') throw new TaskError(`${where}: "context" must be a string`);
  if (!Array.isArray(choices) || choices.length < 2 || !choices.every((c) => typeof c === 'string' && c.length > 0)) {
    throw new TaskError(`${where}: "choices" must be a list of at least two non-empty strings`);
  }
  if (typeof label !== 'number' || !Number.isInteger(label) || label < 0 || label >= choices.length) {
    throw new TaskError(`${where}: "label" must be an integer index into "choices" (0..${choices.length - 1}), got ${JSON.stringify(label)}`);
  }
  return { context, choices: choices as string[], label };
}

/** Loads a user's task file (format detected from the extension and the first record). */
export function loadTaskFile(path: string): Task {
  if (!existsSync(path)) throw new TaskError(`${path}: no such task file`);
  if (!path.endsWith('.jsonl')) {
    const text = readFileSync(path, 'utf8');
    if (text.length === 0) throw new TaskError(`${path}: empty document`);
    return { kind: 'lm', name: path, documents: [text] };
  }
  const records = parseJsonl(path);
  const first = records[0].value as Record<string, unknown>;
  if (first && typeof first === 'object' && 'choices' in first) {
    return { kind: 'mc', name: path, items: records.map((r) => mcItem(path, r.line, r.value)) };
  }
  return {
    kind: 'lm',
    name: path,
    documents: records.map(({ line, value }) => {
      const t = (value as Record<string, unknown> | null)?.text;
      if (typeof t !== 'string' || t.length === 0) throw new TaskError(`${path}:${line}: expected {"text": a non-empty string}`);
      return t;
    }),
  };
}

/** A built-in task's split from the data directory, or a user's file. */
/**
 * A built-in task's split (recorded by the split guard: a test split cannot be opened inside
 * a selection stage), or a task file as it is.
 */
export function loadTask(nameOrFile: string, split: Split, dataDir: string): Task {
  if (BUILTIN_TASKS.includes(nameOrFile)) splitGuard.open(nameOrFile, split);
  return readTask(nameOrFile, split, dataDir);
}

/** loadTask without the guard's record: for callers that record the opening themselves (guardedSplits). */
export function readTask(nameOrFile: string, split: Split, dataDir: string): Task {
  if (!BUILTIN_TASKS.includes(nameOrFile)) {
    if (!existsSync(nameOrFile)) {
      throw new TaskError(`unknown task "${nameOrFile}": not a file, nor one of ${BUILTIN_TASKS.join(', ')}`);
    }
    return loadTaskFile(nameOrFile);
  }
  if (!SPLITS.includes(split)) throw new TaskError(`unknown split "${split}" (expected ${SPLITS.join(', ')})`);
  if ((LM_TASKS as readonly string[]).includes(nameOrFile)) {
    const t = loadTaskFile(join(dataDir, nameOrFile, `${split}.txt`));
    return { ...t, name: nameOrFile };
  }
  const t = loadTaskFile(join(dataDir, nameOrFile, `${split}.jsonl`));
  return { ...t, name: nameOrFile };
}
