// The privacy audit's attacker: a holder of an emulator package who does not keep to the
// agreement. Built from the package alone (never from the source model), it starts exactly
// where the emulator is — so an attack budget of 0 scores exactly Emu ZS — and can grow to
// the full model's architecture:
//   - every SRC target becomes `Recovered`: the shipped rank-r form plus a full-rank dense
//     weight in the model's own layout, starting at zero;
//   - with `rebuildWithheld`, every slot the package holds no block for (harmonized,
//     dropped) gets a full block whose residual output projections start at zero (so the
//     block starts as the identity), its other weights from the architecture's own init or
//     copied from the nearest shipped block; a harmonized slot keeps its harmonizer in front;
//   - shared slots (CRaSh) become independent copies of the block they reuse;
//   - everything, trunk included, is trainable.
// `restoreOriginal` puts a model's weights into that architecture and zeroes the emulator's
// residue (harmonizers, low-rank forms): the result must reproduce the model's logits bit
// for bit, which shows the attacker's architecture can hold the model exactly.
import type { Block, BlockContext, CausalLM } from '../models/causal_lm.js';
import { blockPrefix, residualOutputPaths } from '../models/causal_lm.js';
import { initialisedModel } from '../models/load.js';
import { Module, ModuleList } from '../nn/module.js';
import { Linear } from '../nn/layers.js';
import { getPath, setPath } from '../nn/paths.js';
import type { Tensor } from '../tensor/tensor.js';
import { add } from '../tensor/ops/arithmetic.js';
import { Emulator, DroppedBlock, instantiateEmulator } from '../offsite/emulator.js';
import { LowRankLinear } from '../offsite/scaleot/src.js';
import { Harmonizer } from '../offsite/scaleot/harmonizer.js';

/** A compressed weight with a full-rank part to learn: y = shipped(x) + dense(x), dense starting at zero. */
export class Recovered extends Module {
  readonly dense: Linear;
  constructor(readonly shipped: LowRankLinear, layout: 'out_in' | 'in_out') {
    super();
    this.dense = new Linear(shipped.inFeatures, shipped.outFeatures, { layout, bias: shipped.bias !== null, init: false });
  }

  forward(x: Tensor): Tensor {
    return add(this.dense.forward(x), this.shipped.forward(x));
  }
}

/** A harmonized slot rebuilt: the shipped harmonizer, then a full block (identity at first). */
export class HarmonizedSlot extends Module {
  constructor(readonly harmonizer: Harmonizer, readonly block: Block) {
    super();
  }

  forward(x: Tensor, ctx?: BlockContext): Tensor {
    return this.block.forward(this.harmonizer.forward(x), ctx);
  }
}

export type RebuildInit = 'fresh' | 'nearest';

export interface AttackModelOptions {
  /** Put a full block in every slot the package holds no block for (harmonized, dropped). */
  rebuildWithheld: boolean;
  /** How new blocks start: the architecture's own init, or the nearest shipped block's weights. */
  init: RebuildInit;
  seed: number;
}

export interface AttackModel {
  model: CausalLM;
  /** What each slot became. */
  slots: { block: number; role: string; as: 'shipped' | 'recovered' | 'harmonizer+block' | 'block' | 'dropped' | 'harmonizer' | 'copy' }[];
}

/** The dense (out, in) weight a linear-like module applies, in float64. */
function denseWeight(m: unknown): Float64Array {
  if (m instanceof Linear) {
    const [a, b] = m.weight.shape;
    const w = Float64Array.from(m.weight.data);
    if (m.layout === 'out_in') return w;
    const t = new Float64Array(a * b);
    for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) t[j * a + i] = w[i * b + j];
    return t;
  }
  if (m instanceof LowRankLinear) {
    const { outFeatures: o, inFeatures: n, rank: r } = m;
    const w = new Float64Array(o * n);
    for (let i = 0; i < o; i++)
      for (let q = 0; q < r; q++) {
        const u = m.up.data[i * r + q];
        for (let j = 0; j < n; j++) w[i * n + j] += u * m.down.data[q * n + j];
      }
    return w;
  }
  if (m instanceof Recovered) {
    const a = denseWeight(m.shipped), b = denseWeight(m.dense);
    return a.map((v, k) => v + b[k]);
  }
  throw new Error('audit: not a linear layer');
}

function writeDense(lin: Linear, w: Float64Array): void {
  const { outFeatures: o, inFeatures: n } = lin;
  for (let i = 0; i < o; i++) for (let j = 0; j < n; j++) lin.weight.data[lin.layout === 'out_in' ? i * n + j : j * o + i] = w[i * n + j];
}

/**
 * Copies `from`'s weights into the plain block `to` of the same architecture: parameters by
 * name, and the dense equivalent of every compressed linear layer.
 */
function copyBlock(from: Module, to: Module, linearPathsOf: string[]): void {
  const source = new Map(from.namedParameters());
  for (const [name, p] of to.namedParameters()) {
    const s = source.get(name);
    if (s && s.size === p.size) p.data.set(s.data);
  }
  for (const path of linearPathsOf) {
    const target = getPath(to, path);
    const src = getPath(from, path);
    if (!(target instanceof Linear) || src instanceof Linear) continue;
    writeDense(target, denseWeight(src));
    const bias = src instanceof Recovered ? src.shipped.bias : src instanceof LowRankLinear ? src.bias : null;
    if (bias && target.bias) target.bias.data.set(bias.data);
  }
}

function zeroResidualOutputs(block: Module, paths: string[]): void {
  for (const path of paths) {
    const lin = getPath(block, path) as Linear;
    lin.weight.data.fill(0);
    lin.bias?.data.fill(0);
  }
}

/** The attacker's model from the package alone (see the file comment). */
export function attackModel(emu: Emulator, opts: AttackModelOptions): AttackModel {
  const model = instantiateEmulator(emu, 'emulator');
  const spec = model.spec;
  const d = emu.description;
  const roles = d.plan.roles;
  const n = roles.length;
  const blocks = model.blocks as ModuleList<Block>;
  const allLinears = [...spec.attentionLinears, ...spec.ffnLinears].map((l) => l.path);
  const template = initialisedModel(emu.config, opts.seed, 'emulator/config.json');
  const slots: AttackModel['slots'] = [];
  // Compressed targets first: the nearest-block copies below read their dense form.
  for (const { block, reports } of d.src) {
    for (const r of reports) {
      const m = getPath(blocks.at(block), r.path);
      if (m instanceof LowRankLinear) setPath(blocks.at(block), r.path, new Recovered(m, spec.linearLayout));
    }
  }
  const shippedBlocks = roles.flatMap((role, i) => (role === 'adapter' || role === 'kept' || role === 'src' ? [i] : []));
  const nearest = (i: number) => shippedBlocks.reduce((best, j) => (Math.abs(j - i) < Math.abs(best - i) ? j : best), shippedBlocks[0]);
  for (let i = 0; i < n; i++) {
    const role = roles[i];
    if (role === 'shared') {
      if (!opts.rebuildWithheld) {
        slots.push({ block: i, role, as: 'shipped' });
        continue;
      }
      const copy = template.blocks.at(i);
      copyBlock(blocks.at(Number(d.plan.shared_with![i])), copy, allLinears);
      blocks.set(i, copy);
      slots.push({ block: i, role, as: 'copy' });
    } else if ((role === 'harmonized' || role === 'dropped') && opts.rebuildWithheld) {
      const fresh = template.blocks.at(i);
      if (opts.init === 'nearest' && shippedBlocks.length) copyBlock(blocks.at(nearest(i)), fresh, allLinears);
      zeroResidualOutputs(fresh, residualOutputPaths(spec));
      const current = blocks.at(i);
      blocks.set(i, current instanceof Harmonizer ? new HarmonizedSlot(current, fresh) : fresh);
      slots.push({ block: i, role, as: current instanceof Harmonizer ? 'harmonizer+block' : 'block' });
    } else {
      const b = blocks.at(i);
      slots.push({ block: i, role, as: b instanceof DroppedBlock ? 'dropped' : b instanceof Harmonizer ? 'harmonizer' : role === 'src' && d.src.some((s) => s.block === i) ? 'recovered' : 'shipped' });
    }
  }
  model.requiresGrad(true);
  return { model, slots };
}

/**
 * The model's weights in the attacker's architecture (every block slot and the trunk), the
 * emulator's residue zeroed: harmonizers become the identity, low-rank forms output zero.
 */
export function restoreOriginal(attack: CausalLM, original: CausalLM): void {
  const spec = original.spec;
  const want = new Map(original.namedParameters());
  const blocks = attack.blocks as ModuleList<Block>;
  for (const [name, p] of attack.namedParameters()) if (!name.startsWith(spec.blocksPrefix)) p.data.set(want.get(name)!.data);
  for (let i = 0; i < blocks.length; i++) {
    let slot: Module = blocks.at(i);
    if (slot instanceof DroppedBlock || slot instanceof Harmonizer) throw new Error(`restoreOriginal: slot ${i} holds no block (rebuild the withheld blocks first)`);
    if (slot instanceof HarmonizedSlot) {
      slot.harmonizer.up.weight.data.fill(0);
      slot.harmonizer.up.bias?.data.fill(0);
      slot = slot.block;
    }
    const prefix = blockPrefix(spec, i);
    for (const [name, p] of slot.namedParameters()) {
      const path = name.replace(/\.shipped\.(down|up|bias)$/, '');
      if (path !== name) {
        p.data.fill(0); // the low-rank form: zero
        continue;
      }
      const orig = want.get(prefix + name.replace('.dense.', '.'));
      if (!orig || orig.size !== p.size) throw new Error(`restoreOriginal: no original for ${prefix}${name}`);
      p.data.set(orig.data);
    }
  }
}
