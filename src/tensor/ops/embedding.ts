// Embedding lookup (gather) and its backward (scatter-add into the table's gradient).
import { native } from '../native.js';
import { record } from '../autograd.js';
import { Tensor, ShapeError, allocate, formatShape, sizeOf, Shape, fromBf16Bits } from '../tensor.js';

/** weight: (rows, D); ids with shape idsShape -> (...idsShape, D). Ids are range-checked. */
export function embedding(weight: Tensor, ids: Int32Array, idsShape: Shape = [ids.length]): Tensor {
  if (weight.ndim !== 2) throw new ShapeError(`embedding: weight must be 2-d, got ${formatShape(weight.shape)}`);
  if (sizeOf(idsShape) !== ids.length) throw new ShapeError(`embedding: ${ids.length} ids for shape ${formatShape(idsShape)}`);
  const [rows, D] = weight.shape;
  const out = new Tensor(allocate(ids.length * D, weight.dtype), [...idsShape, D]);
  if (weight.bf16) {
    gatherBf16Rows(weight.bf16, rows, D, ids, out.data as Float32Array);
    return out; // a table held in bf16 is frozen: nothing to record
  }
  native.embeddingForward(ids.length, rows, D, ids, weight.data, out.data);
  return record('embedding', out, [weight], (g) => {
    const gw = new Tensor(allocate(weight.size, weight.dtype), weight.shape);
    native.embeddingBackward(ids.length, rows, D, ids, g.data, gw.data);
    return [gw];
  });
}

/** Rows of a table held as bf16 bits, expanded to float32 (exact); ids range-checked. */
function gatherBf16Rows(bits: Uint16Array, rows: number, D: number, ids: Int32Array, out: Float32Array): void {
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n];
    if (!Number.isInteger(id) || id < 0 || id >= rows) throw new RangeError(`embedding: token id ${id} at position ${n} is outside the embedding table of ${rows} rows`);
    fromBf16Bits(bits.subarray(id * D, (id + 1) * D), out.subarray(n * D, (n + 1) * D));
  }
}
