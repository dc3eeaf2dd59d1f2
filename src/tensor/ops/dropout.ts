// Inverted dropout: keep with probability 1 - p and scale by 1/(1 - p). The mask comes
// from the caller's seeded generator, so a training run is reproducible.
import { Tensor, allocate } from '../tensor.js';
import { mul } from './arithmetic.js';
import type { Rng } from '../../util/rng.js';

export function dropout(x: Tensor, p: number, rng: Rng, training = true): Tensor {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: probability ${p} must be in [0, 1)`);
  if (!training || p === 0) return x;
  const mask = new Tensor(allocate(x.size, x.dtype), x.shape);
  const keep = 1 / (1 - p);
  for (let i = 0; i < mask.size; i++) mask.data[i] = rng.uniform() >= p ? keep : 0;
  return mul(x, mask);
}
