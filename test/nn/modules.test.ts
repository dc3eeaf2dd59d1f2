import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Module, ModuleList, Parameter } from '../../src/nn/module.js';
import { Linear, LayerNorm, Dropout, Embedding } from '../../src/nn/layers.js';
import { Tensor, tensor, zeros } from '../../src/tensor/tensor.js';
import * as T from '../../src/tensor/index.js';
import { Rng } from '../../src/util/rng.js';

class Block extends Module {
  readonly ln = new LayerNorm(4);
  readonly fc = new Linear(4, 3);
}

class Net extends Module {
  readonly emb = new Embedding(10, 4);
  readonly blocks = new ModuleList([new Block(), new Block()]);
  readonly head: Parameter;
  constructor() {
    super();
    this.head = this.emb.weight; // tied, counted once
  }
}

test('parameter names follow field paths and tied weights appear once', () => {
  const net = new Net();
  assert.deepEqual(net.namedParameters().map(([n]) => n), [
    'emb.weight',
    'blocks.0.ln.weight', 'blocks.0.ln.bias', 'blocks.0.fc.weight', 'blocks.0.fc.bias',
    'blocks.1.ln.weight', 'blocks.1.ln.bias', 'blocks.1.fc.weight', 'blocks.1.fc.bias',
  ]);
  assert.equal(net.numParameters(), 40 + 2 * (4 + 4 + 12 + 3));
});

test('freezing a module stops its gradients', () => {
  const net = new Net();
  net.blocks.at(0).requiresGrad(false);
  assert.equal(net.numParameters(true), 40 + 23);
  const x = net.emb.forward(Int32Array.from([1, 2]), [2]);
  const y = net.blocks.at(1).fc.forward(net.blocks.at(0).fc.forward(x).shape ? x : x);
  T.backward(T.sum(y));
  assert.equal(net.blocks.at(0).fc.weight.grad, null);
  assert.ok(net.blocks.at(1).fc.weight.grad);
});

test('loadStateDict checks names and shapes', () => {
  const net = new Net();
  const sd = net.stateDict();
  const other = new Net();
  other.loadStateDict(sd);
  assert.deepEqual(other.blocks.at(1).fc.weight.toArray(), net.blocks.at(1).fc.weight.toArray());
  const bad = new Map(sd);
  bad.set('blocks.0.fc.weight', zeros([4, 3]));
  assert.throws(() => other.loadStateDict(bad), /blocks\.0\.fc\.weight has shape \[4, 3\], expected \[3, 4\]/);
  const missing = new Map(sd);
  missing.delete('emb.weight');
  missing.set('extra', zeros([1]));
  assert.throws(() => other.loadStateDict(missing), /missing \[emb\.weight\], unexpected \[extra\]/);
});

test('Linear layouts: in_out weight gives the same map as the transposed out_in weight', () => {
  const a = new Linear(3, 2, { rng: new Rng(1) });
  const b = new Linear(3, 2, { layout: 'in_out' });
  b.weight.data.set(T.transpose(a.weight).data);
  b.bias!.data.set(a.bias!.data);
  const x = tensor([1, 2, 3, -1, 0, 2], [2, 3]);
  assert.deepEqual(a.forward(x).toArray(), b.forward(x).toArray());
});

test('Dropout: identity in eval mode; in train mode zeroes about p and rescales', () => {
  const d = new Dropout(0.25, new Rng(7));
  const x = T.ones([10000]);
  d.eval();
  assert.equal(d.forward(x), x);
  d.train();
  const y = d.forward(x);
  const zerosCount = y.toArray().filter((v) => v === 0).length;
  assert.ok(Math.abs(zerosCount / 10000 - 0.25) < 0.02, `dropped fraction ${zerosCount / 10000}`);
  assert.ok(y.toArray().every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
});

test('Module.train/eval reaches nested modules', () => {
  const net = new Net();
  net.eval();
  assert.equal(net.blocks.at(1).ln.training, false);
  net.train();
  assert.equal(net.blocks.at(1).ln.training, true);
});

export { Tensor };
