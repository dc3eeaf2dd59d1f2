// scaleot: the library API.
export * as tensor from './tensor/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export { svd, lowRank } from './linalg/svd.js';
export type { SVDResult } from './linalg/svd.js';
export { GPT2LMHeadModel } from './models/gpt2.js';
export type { GPT2Config } from './models/gpt2.js';
export { Rng } from './util/rng.js';
