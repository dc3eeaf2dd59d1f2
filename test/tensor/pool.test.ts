// The buffer pool of training steps (src/tensor/pool.ts): arrays are reused only inside
// scopes, what a scope returns and the leaves' gradients survive it, a tensor whose memory
// was reused cannot be read, the pool is bounded, and training with it computes exactly
// what training without it computes.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randn, ReleasedTensorError, Tensor } from '../../src/tensor/tensor.js';
import { withBufferScope, poolStats, clearPool, LiveGraphError } from '../../src/tensor/pool.js';
import { gelu } from '../../src/tensor/ops/activation.js';
import { mul, mulScalar } from '../../src/tensor/ops/arithmetic.js';
import { sum } from '../../src/tensor/ops/reduce.js';
import { backward } from '../../src/tensor/autograd.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { AdamW } from '../../src/optim/adamw.js';
import { trainLoop } from '../../src/train/loop.js';
import { Rng } from '../../src/util/rng.js';

const DEFAULT_CAPACITY = poolStats().capacityBytes;
afterEach(() => clearPool(DEFAULT_CAPACITY));

test('a scope reuses the arrays an earlier scope released, and keeps what it returns', () => {
  clearPool();
  const x = randn([64, 64], new Rng(0));
  const first = withBufferScope(() => gelu(gelu(x)), (y) => [y]);
  const expected = Float32Array.from(first.data);
  const before = poolStats();
  assert.equal(before.pooledArrays, 1, 'the inner gelu output went back to the pool; the returned one did not');
  const second = withBufferScope(() => gelu(x).data[0]);
  const after = poolStats();
  assert.equal(after.reused - before.reused, 1, 'the second scope took the pooled array');
  assert.equal(after.fresh, before.fresh, 'and needed no fresh one');
  assert.equal(second, gelu(x).data[0]);
  assert.deepEqual(first.data, expected, 'the returned tensor was not overwritten by the reuse');
});

test('a tensor made inside a scope and not kept cannot be read after it', () => {
  const x = randn([8, 8], new Rng(1));
  let leaked: Tensor | null = null;
  withBufferScope(() => {
    leaked = gelu(x);
    return 0;
  });
  assert.throws(() => (leaked as unknown as Tensor).data, ReleasedTensorError);
  assert.throws(() => (leaked as unknown as Tensor).toArray(), /buffer scope/);
  // Tensors that only view memory from outside the scope stay valid.
  let view: Tensor | null = null;
  withBufferScope(() => {
    view = x.detach();
    return 0;
  });
  assert.equal((view as unknown as Tensor).data, x.data);
});

test('returning a tensor that still has its autograd graph is refused', () => {
  const w = randn([4, 4], new Rng(2));
  w.requiresGrad = true;
  assert.throws(() => withBufferScope(() => gelu(w), (y) => [y]), LiveGraphError);
});

test('leaf gradients survive the scope and later scopes do not overwrite them', () => {
  const w = randn([32, 32], new Rng(3));
  w.requiresGrad = true;
  withBufferScope(() => backward(sum(mulScalar(gelu(gelu(w)), 3))));
  assert.ok(w.grad);
  const g = Float32Array.from(w.grad.data);
  // The same computation without the pool gives the same gradient ...
  const w2 = new Tensor(Float32Array.from(w.data), w.shape, true);
  clearPool(0);
  backward(sum(mulScalar(gelu(gelu(w2)), 3)));
  clearPool(DEFAULT_CAPACITY);
  assert.deepEqual(w2.grad!.data, g);
  // ... and a busy later scope leaves it alone.
  withBufferScope(() => {
    for (let i = 0; i < 5; i++) gelu(gelu(randn([32, 32], new Rng(i))));
    return 0;
  });
  assert.deepEqual(w.grad.data, g);
});

test('the backward pass reuses the gradients it has consumed within the same step', () => {
  const w = randn([128, 128], new Rng(4));
  w.requiresGrad = true;
  clearPool();
  const before = poolStats();
  // A chain: each consumed gradient is free for the next rule's output.
  withBufferScope(() => {
    let y = w;
    for (let i = 0; i < 6; i++) y = gelu(y);
    backward(sum(y));
  });
  const after = poolStats();
  assert.ok(after.reused - before.reused >= 4, `reused ${after.reused - before.reused} arrays during one backward`);
});

test('an op whose inputs repeat (x * x) accumulates and releases its gradients correctly', () => {
  const grad = (pool: boolean) => {
    clearPool(pool ? DEFAULT_CAPACITY : 0);
    const w = new Tensor(randn([16, 16], new Rng(8)).data, [16, 16], true);
    withBufferScope(() => {
      const y = gelu(w);
      backward(sum(mul(mul(y, y), y)));
    });
    return Float32Array.from(w.grad!.data);
  };
  assert.deepEqual(grad(true), grad(false));
});

test('nested scopes: what the inner one returns is released by the outer one', () => {
  const x = randn([16, 16], new Rng(5));
  let inner: Tensor | null = null;
  const value = withBufferScope(() => {
    inner = withBufferScope(() => gelu(x), (y) => [y]);
    return inner.data[3];
  });
  assert.equal(value, gelu(x).data[3]);
  assert.throws(() => (inner as unknown as Tensor).data, ReleasedTensorError);
});

test('an error inside a scope reuses nothing and leaves its tensors readable', () => {
  clearPool();
  const x = randn([16, 16], new Rng(6));
  let made: Tensor | null = null;
  assert.throws(() => withBufferScope(() => {
    made = gelu(x);
    throw new Error('boom');
  }), /boom/);
  assert.equal(poolStats().pooledArrays, 0);
  assert.equal((made as unknown as Tensor).data.length, 256);
});

test('the pool is bounded: beyond the capacity its oldest arrays are left to the collector', () => {
  clearPool(8 * 1024); // room for two 1,024-float arrays
  const x = randn([1024], new Rng(7));
  const before = poolStats();
  withBufferScope(() => {
    for (let i = 0; i < 5; i++) gelu(x);
    return 0;
  });
  const after = poolStats();
  assert.equal(after.pooledBytes, 8 * 1024);
  assert.equal(after.evicted - before.evicted, 3);
  withBufferScope(() => gelu(randn([4096], new Rng(7))).data[0]); // larger than the whole pool
  assert.equal(poolStats().dropped - before.dropped, 1);
});

test('arrays of a workload that has moved on are evicted after two epochs', () => {
  clearPool();
  const big = randn([4096], new Rng(8)), small = randn([64], new Rng(8));
  withBufferScope(() => gelu(big).data[0]); // one epoch of the old shapes
  assert.equal(poolStats().pooledBytes, 4096 * 4);
  const evictedBefore = poolStats().evicted;
  for (let i = 0; i < 3; i++) withBufferScope(() => gelu(small).data[0]); // the new workload
  const after = poolStats();
  assert.equal(after.evicted - evictedBefore, 1, 'the 4,096-float array went to the collector');
  assert.equal(after.pooledBytes, 64 * 4, 'only the current workload\'s array stays');
});

test('SCALEOT_POOL_MB must be a size in MiB', async () => {
  process.env.SCALEOT_POOL_MB = 'lots';
  try {
    // A fresh instance of the module reads the variable when it loads.
    await assert.rejects(import(new URL('../../src/tensor/pool.js?invalid-size', import.meta.url).href), /SCALEOT_POOL_MB=lots: expected a size in MiB/);
  } finally {
    delete process.env.SCALEOT_POOL_MB;
  }
});

function trained(pool: boolean): { losses: number[]; weights: Float32Array[]; fresh: number[]; pooled: number[] } {
  clearPool(pool ? DEFAULT_CAPACITY : 0);
  const model = new GPT2LMHeadModel({ vocabSize: 64, nPositions: 16, nEmbd: 32, nLayer: 2, nHead: 2 }, 11);
  const params = model.parameters();
  const opt = new AdamW(params, { lr: 1e-2 });
  const B = 4, T = 16;
  const losses: number[] = [], fresh: number[] = [], pooled: number[] = [];
  model.train();
  trainLoop({ steps: 40, seed: 9, precision: 'fp32', accumulate: 2 }, {
    optimizer: opt, params, stateModule: model,
    forward: (_s, rng) => {
      const ids = Int32Array.from({ length: B * T }, () => rng.int(64));
      return model.loss(ids, ids.map((v) => (v * 7 + 1) % 64), B, T);
    },
    afterStep: (r) => {
      losses.push(r.loss!);
      fresh.push(poolStats().fresh);
      pooled.push(poolStats().pooledBytes);
    },
  });
  return { losses, weights: params.map((p) => Float32Array.from(p.data)), fresh, pooled };
}

test('training with the pool computes bit for bit what training without it does, and stops allocating after the first steps', () => {
  const without = trained(false);
  const withPool = trained(true);
  assert.deepEqual(withPool.losses, without.losses);
  for (let i = 0; i < without.weights.length; i++) assert.deepEqual(withPool.weights[i], without.weights[i]);
  // From the third step on, every array a step needs comes from the pool and the pool
  // holds the same bytes after every step.
  assert.ok(withPool.fresh[2] > 0);
  assert.equal(withPool.fresh[withPool.fresh.length - 1], withPool.fresh[2], `fresh allocations per step: ${withPool.fresh.join(', ')}`);
  assert.equal(new Set(withPool.pooled.slice(2)).size, 1, `pooled bytes per step: ${withPool.pooled.join(', ')}`);
});
