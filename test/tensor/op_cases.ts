// The op under test for each case of test/fixtures/ops.json (made by
// test/golden/make_golden.py). Shared by the PyTorch golden test and the float64
// finite-difference test so both exercise exactly the same calls.
import * as T from '../../src/tensor/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { loadFixture, decode, decodeTensor, Encoded } from '../helpers.js';
import { rotaryTables } from '../../src/tensor/ops/attention.js';

export type IntInput = { data: Int32Array; shape: number[] };
export type Runner = (x: Record<string, Tensor>, ints: Record<string, IntInput>, params: Record<string, any>) => Tensor;

const mm: Runner = ({ a, b }, _i, p) => T.matmul(a, b, { transA: !!p.transA, transB: !!p.transB });

export const runners: Record<string, Runner> = {
  matmul: mm,
  matmul_transA: mm,
  matmul_transB: mm,
  matmul_transAB: mm,
  matmul_shared: mm,
  matmul_shared_transB: mm,
  matmul_shared_transA: mm,
  matmul_shared_transAB: mm,
  linear_out_in: ({ x, w, b }, _i, p) => T.linear(x, w, b, p.layout),
  linear_in_out: ({ x, w, b }, _i, p) => T.linear(x, w, b, p.layout),
  add_broadcast: ({ a, b }) => T.add(a, b),
  sub_broadcast: ({ a, b }) => T.sub(a, b),
  mul_broadcast: ({ a, b }) => T.mul(a, b),
  div_broadcast: ({ a, b }) => T.div(a, b),
  neg: ({ x }) => T.neg(x),
  exp: ({ x }) => T.exp(x),
  log: ({ x }) => T.log(x),
  sqrt: ({ x }) => T.sqrt(x),
  square: ({ x }) => T.square(x),
  mulScalar: ({ x }, _i, p) => T.mulScalar(x, p.s),
  addScalar: ({ x }, _i, p) => T.addScalar(x, p.s),
  sum_all: ({ x }) => T.sum(x),
  sum_axis1: ({ x }, _i, p) => T.sum(x, p.axis),
  sum_axis_keep: ({ x }, _i, p) => T.sum(x, p.axis, p.keepdim),
  mean_axis0: ({ x }, _i, p) => T.mean(x, p.axis),
  permute: ({ x }, _i, p) => T.permute(x, p.perm),
  transpose: ({ x }, _i, p) => T.transpose(x, p.a, p.b),
  slice: ({ x }, _i, p) => T.slice(x, p.axis, p.start, p.end),
  concat: ({ a, b }, _i, p) => T.concat([a, b], p.axis),
  reshape: ({ x }, _i, p) => T.reshape(x, p.shape),
  gelu: ({ x }) => T.gelu(x),
  relu: ({ x }) => T.relu(x),
  silu: ({ x }) => T.silu(x),
  tanh: ({ x }) => T.tanh(x),
  sigmoid: ({ x }) => T.sigmoid(x),
  layer_norm: ({ x, w, b }, _i, p) => T.layerNorm(x, w, b, p.eps),
  layer_norm_nobias: ({ x, w }, _i, p) => T.layerNorm(x, w, null, p.eps),
  rms_norm: ({ x, w }, _i, p) => T.rmsNorm(x, w, p.eps),
  attention: ({ q, k, v }) => T.causalAttention(q, k, v),
  attention_gqa: ({ q, k, v }) => T.causalAttention(q, k, v),
  attention_kvcache: ({ q, k, v }) => T.causalAttention(q, k, v),
  rope: ({ x }, _i, p) => T.rope(x, rotaryTables(x.shape[2], x.shape[3], p.theta, p.offset, x.dtype)),
  cross_entropy_mean: ({ x }, { t }) => T.crossEntropy(x, t.data),
  cross_entropy_sum: ({ x }, { t }, p) => T.crossEntropy(x, t.data, { reduction: p.reduction }),
  cross_entropy_none: ({ x }, { t }, p) => T.crossEntropy(x, t.data, { reduction: p.reduction }),
  linear_cross_entropy: ({ h, w }, { t }, p) => T.linearCrossEntropy(h, w, t.data, { chunkRows: p.chunkRows }),
  log_softmax: ({ x }) => T.logSoftmax(x),
  embedding: ({ w }, { ids }) => T.embedding(w, ids.data, ids.shape),
};

/** One case of test/fixtures/ops.json. */
export interface OpCase {
  name: string;
  params: Record<string, unknown>;
  inputs: Record<string, Encoded>;
  ints: Record<string, Encoded>;
  cotangent: Encoded;
  output: Encoded;
  grads: Record<string, Encoded>;
}

export const opCases: OpCase[] = loadFixture<{ cases: OpCase[] }>('ops.json').cases;

/** A case's float inputs in the given precision, and its integer inputs. */
export function caseInputs(c: OpCase, dtype: 'float32' | 'float64'): { inputs: Record<string, Tensor>; ints: Record<string, IntInput> } {
  const inputs: Record<string, Tensor> = {};
  for (const [k, e] of Object.entries(c.inputs)) inputs[k] = decodeTensor(e, dtype);
  const ints: Record<string, IntInput> = {};
  for (const [k, e] of Object.entries(c.ints)) ints[k] = { data: decode(e) as Int32Array, shape: e.shape };
  return { inputs, ints };
}
