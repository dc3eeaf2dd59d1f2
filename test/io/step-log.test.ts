// A step log cut back to the checkpoint a run resumes from: later entries and a half-written
// last line go, the last kept entry comes back, and a damaged line elsewhere is refused
// with the file and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cutStepLogAt } from '../../src/io/step-log.js';

const entries = (steps: number[]) => steps.map((s) => JSON.stringify({ step: s, loss: 10 - s })).join('\n') + '\n';

test('entries after the checkpoint and a half-written last line are dropped; the last kept entry is returned', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-steplog-'));
  try {
    const path = join(dir, 'training_log.jsonl');
    writeFileSync(path, entries([1, 2, 3, 4, 5, 6]) + '{"step":7,"lo');
    assert.deepEqual(cutStepLogAt(path, 4), { step: 4, loss: 6 });
    assert.equal(readFileSync(path, 'utf8'), entries([1, 2, 3, 4]));
    assert.deepEqual(cutStepLogAt(path, 4), { step: 4, loss: 6 }, 'cutting again changes nothing');
    assert.equal(cutStepLogAt(path, 0), undefined);
    assert.equal(readFileSync(path, 'utf8'), '');
    assert.equal(cutStepLogAt(join(dir, 'absent.jsonl'), 3), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged line that is not the last, or an entry without a step, is refused with the file and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-steplog-'));
  try {
    const path = join(dir, 'training_log.jsonl');
    writeFileSync(path, entries([1]) + 'garbage\n' + entries([3]));
    assert.throws(() => cutStepLogAt(path, 2), (e: Error) => e.message.includes(path) && e.message.includes('line 2'));
    writeFileSync(path, entries([1]) + '{"loss":3}\n' + entries([3]));
    assert.throws(() => cutStepLogAt(path, 2), /line 2 has no numeric "step"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
