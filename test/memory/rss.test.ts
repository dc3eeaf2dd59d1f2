// A 1,000-step training loop must not leak: resident memory after the loop is within 5%
// of what it was after the first 50 steps (both read after a full garbage collection and
// after returning the allocator's free memory, so a leak is not hidden and a free list is
// not mistaken for one). Each step runs in a buffer scope, as the training loop's do: the
// pool must not grow either (no fresh arrays and the same pooled bytes after step 50).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { AdamW } from '../../src/optim/adamw.js';
import { clipGradNorm } from '../../src/optim/clip.js';
import { backward } from '../../src/tensor/autograd.js';
import { Rng } from '../../src/util/rng.js';
import { native } from '../../src/tensor/native.js';
import { withBufferScope, poolStats } from '../../src/tensor/pool.js';

/**
 * Collects garbage until V8's background sweeping of freed ArrayBuffers has run, then
 * returns free allocator memory, so RSS counts live buffers only.
 */
async function settle(gc: () => void): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  native.releaseFreeMemory();
}

test('1000 training steps grow RSS by less than 5% after step 50', async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc, 'run with --expose-gc (scripts/run-tests.mjs does)');
  const model = new GPT2LMHeadModel({ vocabSize: 256, nPositions: 32, nEmbd: 96, nLayer: 3, nHead: 4 }, 1);
  const opt = new AdamW(model.parameters(), { lr: 1e-3 });
  const rng = new Rng(5);
  const B = 4, T = 32;
  let rssAt50 = 0;
  let poolAt50: ReturnType<typeof poolStats> | null = null;
  let firstLoss = 0, lastLoss = 0;
  for (let step = 1; step <= 1000; step++) {
    const ids = Int32Array.from({ length: B * T }, () => rng.int(256));
    // A learnable target: the next id is the current one shifted by one.
    const targets = ids.map((v) => (v + 1) % 256);
    opt.zeroGrad();
    const loss = withBufferScope(() => {
      const l = model.loss(ids, targets, B, T);
      backward(l);
      return l.item();
    });
    clipGradNorm(model.parameters(), 1.0);
    opt.step();
    if (step === 1) firstLoss = loss;
    lastLoss = loss;
    if (step === 50) {
      await settle(gc);
      rssAt50 = process.memoryUsage().rss;
      poolAt50 = poolStats();
    }
  }
  await settle(gc);
  const rssEnd = process.memoryUsage().rss;
  const growth = (rssEnd - rssAt50) / rssAt50;
  const poolEnd = poolStats();
  console.log(`# rss after 50 steps ${(rssAt50 / 2 ** 20).toFixed(1)} MiB, after 1000 ${(rssEnd / 2 ** 20).toFixed(1)} MiB (${(100 * growth).toFixed(2)}%); loss ${firstLoss.toFixed(3)} -> ${lastLoss.toFixed(3)}; pool ${(poolEnd.pooledBytes / 2 ** 20).toFixed(1)} MiB, ${poolEnd.reused - poolAt50!.reused} arrays reused after step 50`);
  assert.ok(growth < 0.05, `RSS grew ${(100 * growth).toFixed(2)}%`);
  assert.equal(poolEnd.fresh, poolAt50!.fresh, 'steps after the 50th took every array from the pool');
  assert.equal(poolEnd.pooledBytes, poolAt50!.pooledBytes, 'the pool did not grow');
  assert.ok(poolEnd.reused - poolAt50!.reused >= 950 * 50, 'each step reused its arrays');
  assert.ok(lastLoss < firstLoss * 0.5, 'the loop should also learn the shift task');
});
