// The tensor library's public surface.
export * from './tensor.js';
export { backward, noGrad, enableGrad, isGradEnabled } from './autograd.js';
export * from './ops/arithmetic.js';
export * from './ops/reduce.js';
export * from './ops/shape.js';
export * from './ops/matmul.js';
export * from './ops/activation.js';
export * from './ops/norm.js';
export * from './ops/attention.js';
export * from './ops/loss.js';
export * from './ops/embedding.js';
export * from './ops/dropout.js';
