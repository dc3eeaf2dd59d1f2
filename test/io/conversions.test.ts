// F16 and BF16 tensors decode to float32 exactly, for every one of the 65,536 bit patterns,
// through the fast path (a Uint16Array view and, for F16, a lookup table) and through the
// byte-by-byte path taken when the bytes are not 2-aligned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toFloat32 } from '../../src/io/safetensors.js';

/** IEEE half -> number, written out from the format's definition. */
function half(h: number): number {
  const sign = h >> 15 ? -1 : 1, e = (h >> 10) & 31, f = h & 1023;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f ? NaN : sign * Infinity;
  return sign * 2 ** (e - 15) * (1 + f / 1024);
}

function allPatterns(offset: number): Uint8Array {
  const buf = new Uint8Array(2 * 65536 + offset);
  for (let h = 0; h < 65536; h++) {
    buf[offset + 2 * h] = h & 255;
    buf[offset + 2 * h + 1] = h >> 8;
  }
  return buf.subarray(offset);
}

for (const offset of [0, 1]) {
  test(`every F16 and BF16 bit pattern decodes exactly (byte offset ${offset})`, () => {
    const bytes = allPatterns(offset);
    const f16 = toFloat32(bytes, 'F16');
    const bf16 = toFloat32(bytes, 'BF16');
    const bits = new Uint32Array(bf16.buffer);
    for (let h = 0; h < 65536; h++) {
      assert.ok(Object.is(f16[h], Math.fround(half(h))) || (Number.isNaN(f16[h]) && Number.isNaN(half(h))), `F16 0x${h.toString(16)}: ${f16[h]}`);
      assert.equal(bits[h], (h << 16) >>> 0, `BF16 0x${h.toString(16)}`);
    }
  });
}
