// Token streams of JSONL documents: separators where asked, documents chosen by id, and bad
// lines named by file and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonlTokenStream } from '../../src/data/streams.js';

const tok = { encode: (t: string) => [...t].map((c) => c.charCodeAt(0)) };

test('jsonlTokenStream: separator before or after each document; a keep filter chooses documents by id; bad lines are named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-streams-'));
  try {
    const path = join(dir, 'docs.jsonl');
    writeFileSync(path, '{"id":"a/1","text":"ab"}\n\n{"id":"b/1","text":"c"}\n');
    assert.deepEqual([...jsonlTokenStream(tok, path, 0, 'before')], [0, 97, 98, 0, 99]);
    assert.deepEqual([...jsonlTokenStream(tok, path, 0, 'after')], [97, 98, 0, 99, 0]);
    assert.deepEqual([...jsonlTokenStream(tok, path, 0, 'after', (id) => id.startsWith('b/'))], [99, 0]);
    writeFileSync(path, '{"text":"ab"}\n');
    assert.throws(() => jsonlTokenStream(tok, path, 0, 'after', () => true), /docs\.jsonl:1: expected \{"id": string\}/);
    writeFileSync(path, '{"id":"a","text":"ab"}\n{"id":"b","text":5}\n');
    assert.throws(() => jsonlTokenStream(tok, path, 0, 'after'), /docs\.jsonl:2: expected \{"text": string\}/);
    writeFileSync(path, '{"id":"a","text":"ab"}\n{oops\n');
    assert.throws(() => jsonlTokenStream(tok, path, 0, 'after'), /docs\.jsonl:2: not valid JSON/);
    assert.throws(() => jsonlTokenStream(tok, join(dir, 'none.jsonl'), 0, 'after'), /none\.jsonl: cannot read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
