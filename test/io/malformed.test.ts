// Every kind of broken checkpoint gives a clear error naming the file and what is wrong;
// none crashes, hangs or loads silently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/models/load.js';
import { SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import { fixturesDir } from '../helpers.js';

const GPT2 = join(fixturesDir, 'models', 'gpt2');

/** A copy of the tiny GPT-2 checkpoint that `mutate` may break; returns the loader's error. */
function brokenCheckpoint(mutate: (dir: string) => void): Error {
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-bad-'));
  try {
    cpSync(GPT2, dir, { recursive: true });
    mutate(dir);
    try {
      loadModel(dir);
    } catch (e) {
      return e as Error;
    }
    throw new Error('the broken checkpoint loaded without an error');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rewrites model.safetensors with an edited header (same data bytes). */
function withHeader(dir: string, edit: (h: Record<string, any>) => void): void {
  const path = join(dir, 'model.safetensors');
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  edit(header);
  const hb = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length));
  writeFileSync(path, Buffer.concat([len, hb, buf.subarray(8 + n)]));
}

const st = (dir: string) => join(dir, 'model.safetensors');
const byOffset = (h: Record<string, any>) =>
  Object.keys(h).filter((k) => k !== '__metadata__').sort((a, b) => h[a].data_offsets[0] - h[b].data_offsets[0]);

test('empty safetensors file', () => {
  const e = brokenCheckpoint((d) => writeFileSync(st(d), Buffer.alloc(0)));
  assert.match(e.message, /model\.safetensors: file is 0 bytes/);
});

test('truncated safetensors file', () => {
  const e = brokenCheckpoint((d) => {
    const b = readFileSync(st(d));
    writeFileSync(st(d), b.subarray(0, b.length - 100));
  });
  assert.match(e.message, /model\.safetensors: tensor data ends at byte \d+ but the file has \d+ bytes \(truncated\)/);
});

test('header length over the limit', () => {
  const e = brokenCheckpoint((d) => {
    const b = readFileSync(st(d));
    b.writeBigUInt64LE(BigInt(2) ** BigInt(40), 0);
    writeFileSync(st(d), b);
  });
  assert.match(e.message, /header length 1099511627776 exceeds the limit/);
});

test('header that is not JSON', () => {
  const e = brokenCheckpoint((d) => {
    const b = readFileSync(st(d));
    b.write('#', 8);
    writeFileSync(st(d), b);
  });
  assert.match(e.message, /model\.safetensors: header is not valid UTF-8 JSON/);
});

test('data offsets out of range', () => {
  const e = brokenCheckpoint((d) => withHeader(d, (h) => {
    const last = byOffset(h).at(-1)!;
    h[last].data_offsets[1] += 4000;
    h[last].shape = [(h[last].data_offsets[1] - h[last].data_offsets[0]) / 4];
  }));
  assert.match(e.message, /tensor data ends at byte \d+ but the file has \d+ bytes/);
});

test('overlapping tensors', () => {
  const e = brokenCheckpoint((d) => withHeader(d, (h) => {
    const b = h[byOffset(h)[2]];
    b.data_offsets = [b.data_offsets[0] - 4, b.data_offsets[1] - 4];
  }));
  assert.match(e.message, /overlaps the previous tensor/);
});

test('a hole between tensors', () => {
  const e = brokenCheckpoint((d) => withHeader(d, (h) => {
    const f = h[byOffset(h)[0]];
    f.data_offsets = [4, f.data_offsets[1]];
    f.shape = [(f.data_offsets[1] - 4) / 4];
  }));
  assert.match(e.message, /a hole of 4 bytes precedes tensor/);
});

test('unknown dtype', () => {
  const e = brokenCheckpoint((d) => withHeader(d, (h) => (h[byOffset(h)[0]].dtype = 'F8_E9')));
  assert.match(e.message, /tensor "[^"]+": unknown dtype "F8_E9"/);
});

test('shape and byte size disagree', () => {
  const e = brokenCheckpoint((d) => withHeader(d, (h) => h[byOffset(h)[0]].shape.push(2)));
  assert.match(e.message, /tensor "[^"]+": F32 shape \[.*\] needs \d+ bytes but data_offsets give \d+/);
});

test('missing tensor', () => {
  const e = brokenCheckpoint((d) => {
    const f = SafetensorsFile.open(st(d));
    const keep = f.names().filter((n) => n !== 'h.1.mlp.c_fc.weight');
    const tensors = keep.map((n) => ({ name: n, dtype: 'F32' as const, shape: f.info(n).shape, data: f.readFloat32(n) }));
    f.close();
    writeSafetensors(st(d), tensors);
  });
  assert.match(e.message, /GPT-2 checkpoint is missing tensor "h\.1\.mlp\.c_fc\.weight"/);
});

test('NaN in a weight', () => {
  const e = brokenCheckpoint((d) => {
    const f = SafetensorsFile.open(st(d));
    const tensors = f.names().map((n) => ({ name: n, dtype: 'F32' as const, shape: f.info(n).shape, data: f.readFloat32(n).slice() }));
    f.close();
    tensors.find((t) => t.name === 'h.0.ln_2.bias')!.data[3] = NaN;
    writeSafetensors(st(d), tensors);
  });
  assert.match(e.message, /tensor "h\.0\.ln_2\.bias" has a non-finite value \(NaN\) at flat index 3/);
});

test('config.json that is not JSON', () => {
  const e = brokenCheckpoint((d) => writeFileSync(join(d, 'config.json'), '{"n_embd": 24,'));
  assert.match(e.message, /config\.json: not valid JSON/);
});

test('config.json inconsistent with itself', () => {
  const e = brokenCheckpoint((d) => {
    const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
    c.n_head = 5;
    writeFileSync(join(d, 'config.json'), JSON.stringify(c));
  });
  assert.match(e.message, /"n_embd" 24 is not divisible by "n_head" 5/);
});

test('config.json inconsistent with the weights', () => {
  const e = brokenCheckpoint((d) => {
    const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
    c.vocab_size = 70;
    writeFileSync(join(d, 'config.json'), JSON.stringify(c));
  });
  assert.match(e.message, /tensor "wte\.weight" has shape \[61, 24\], the config implies \[70, 24\]/);
});

test('config.json with a field of the wrong type', () => {
  const e = brokenCheckpoint((d) => {
    const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
    c.n_layer = '2';
    writeFileSync(join(d, 'config.json'), JSON.stringify(c));
  });
  assert.match(e.message, /config\.json: "n_layer" must be a positive integer, got "2"/);
});

test('unknown architecture', () => {
  const e = brokenCheckpoint((d) => writeFileSync(join(d, 'config.json'), JSON.stringify({ model_type: 'bert', architectures: ['BertModel'] })));
  assert.match(e.message, /unknown architecture \(model_type "bert"/);
});

test('missing config.json and missing weights', () => {
  const e1 = brokenCheckpoint((d) => rmSync(join(d, 'config.json')));
  assert.match(e1.message, /config\.json: cannot read/);
  const e2 = brokenCheckpoint((d) => rmSync(st(d)));
  assert.match(e2.message, /no model\.safetensors or model\.safetensors\.index\.json/);
});

test('a nonexistent directory', () => {
  assert.throws(() => loadModel('/nonexistent/scaleot-model'), /no such checkpoint directory/);
});
