// Behaviour of the tape: what is recorded, where gradients go, accumulation, release.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { Tensor, tensor } from '../../src/tensor/tensor.js';

test('noGrad records nothing and backward on its result is refused', () => {
  const x = tensor([1, 2, 3]);
  x.requiresGrad = true;
  const y = T.noGrad(() => T.sum(T.mul(x, x)));
  assert.equal(y.requiresGrad, false);
  assert.equal(y.gradFn, null);
  assert.throws(() => T.backward(y), /does not require grad/);
});

test('gradients only for tensors that require them', () => {
  const a = tensor([1, 2]);
  const b = tensor([3, 4]);
  a.requiresGrad = true;
  T.backward(T.sum(T.mul(a, b)));
  assert.deepEqual(a.grad!.toArray(), [3, 4]);
  assert.equal(b.grad, null);
});

test('a tensor used twice receives the sum of both paths', () => {
  const x = tensor([2, -1]);
  x.requiresGrad = true;
  // f = sum(x*x + x) -> df/dx = 2x + 1
  T.backward(T.sum(T.add(T.mul(x, x), x)));
  assert.deepEqual(x.grad!.toArray(), [5, -1]);
});

test('leaf gradients accumulate across backward calls until zeroed', () => {
  const x = tensor([1, 1]);
  x.requiresGrad = true;
  T.backward(T.sum(T.mulScalar(x, 3)));
  T.backward(T.sum(T.mulScalar(x, 3)));
  assert.deepEqual(x.grad!.toArray(), [6, 6]);
});

function buildGraph(x: Tensor): { ref: WeakRef<Tensor>; loss: Tensor } {
  const hidden = T.exp(x);
  return { ref: new WeakRef(hidden), loss: T.sum(T.mul(hidden, hidden)) };
}

test('the graph is released after backward (saved activations become collectable)', async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  const x = tensor(new Array(1000).fill(0.5));
  x.requiresGrad = true;
  // Built in a separate frame so no local variable of this (async) test keeps it alive.
  const { ref, loss } = buildGraph(x);
  assert.ok(loss.gradFn);
  T.backward(loss);
  assert.equal(loss.gradFn, null);
  assert.ok(gc, 'run the tests with --expose-gc (scripts/run-tests.mjs does)');
  await new Promise((r) => setTimeout(r, 0));
  gc();
  assert.equal(ref.deref(), undefined, 'intermediate tensor still reachable after backward');
});

test('shape errors name the op and both shapes', () => {
  assert.throws(() => T.add(T.zeros([2, 3]), T.zeros([4])), /add: shapes \[2, 3\] and \[4\] do not broadcast/);
  assert.throws(() => T.matmul(T.zeros([2, 3]), T.zeros([4, 5])), /matmul: inner dimensions differ/);
  assert.throws(() => T.reshape(T.zeros([2, 3]), [4]), /reshape/);
  assert.throws(() => T.embedding(T.zeros([4, 2]), Int32Array.from([0, 7])), /token id 7 .* outside the embedding table of 4 rows/);
  assert.throws(() => T.crossEntropy(T.zeros([2, 3]), Int32Array.from([0, 5])), /target 5 at row 1 outside vocabulary of 3/);
  assert.throws(() => new Tensor(new Float32Array(3), [2, 2]), /3 elements but shape \[2, 2\] needs 4/);
  assert.throws(() => T.add(T.zeros([2]), T.zeros([2], 'float64')), /mixed dtypes/);
});

test('native bounds checks turn bad lengths into exceptions, not memory errors', async () => {
  const { native } = await import('../../src/tensor/native.js');
  const a = new Float32Array(4), b = new Float32Array(4), c = new Float32Array(3);
  assert.throws(() => native.gemm(0, 0, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2, 1, 0, 0, 0), /C: needs 4 elements, has 3/);
  assert.throws(() => native.axpy(10, 1, a, b), /x: needs 10 elements/);
});

test('deep graphs do not overflow the stack', () => {
  let x = tensor([1]);
  x.requiresGrad = true;
  const leaf = x;
  for (let i = 0; i < 20000; i++) x = T.addScalar(x, 1);
  T.backward(T.sum(x));
  assert.deepEqual(leaf.grad!.toArray(), [1]);
});
