// Embedding lookup (gather) and its backward (scatter-add into the table's gradient).
import { native } from '../native.js';
import { record } from '../autograd.js';
import { Tensor, ShapeError, allocate, formatShape, sizeOf, Shape } from '../tensor.js';

/** weight: (rows, D); ids with shape idsShape -> (...idsShape, D). Ids are range-checked. */
export function embedding(weight: Tensor, ids: Int32Array, idsShape: Shape = [ids.length]): Tensor {
  if (weight.ndim !== 2) throw new ShapeError(`embedding: weight must be 2-d, got ${formatShape(weight.shape)}`);
  if (sizeOf(idsShape) !== ids.length) throw new ShapeError(`embedding: ${ids.length} ids for shape ${formatShape(idsShape)}`);
  const [rows, D] = weight.shape;
  const out = new Tensor(allocate(ids.length * D, weight.dtype), [...idsShape, D]);
  native.embeddingForward(ids.length, rows, D, ids, weight.data, out.data);
  return record('embedding', out, [weight], (g) => {
    const gw = new Tensor(allocate(weight.size, weight.dtype), weight.shape);
    native.embeddingBackward(ids.length, rows, D, ids, g.data, gw.data);
    return [gw];
  });
}
