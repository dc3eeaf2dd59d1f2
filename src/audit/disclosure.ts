// What an emulator discloses of its source model (the privacy audit, part 1): the fraction
// of the model's parameters the package holds verbatim — trunk, adapters, kept blocks and
// the untouched parts of compressed blocks — and, for SRC's targets, the fraction of each
// weight's spectral energy shipped, Σ_{k≤r} σ_k² / Σ_k σ_k² = 1 − ‖W − W_r‖_F² / ‖W‖_F²
// (Eckart-Young: the package's rank-r form is the truncated SVD, and the SRC report holds
// ‖W − W_r‖_F from the float64 SVD). A tensor counts as verbatim when the package holds a
// tensor of the same checkpoint name with the same values; distilled or compressed weights
// do not.
import type { CausalLM } from '../models/causal_lm.js';
import { blockIndexOf, blockPrefix } from '../models/causal_lm.js';
import type { Emulator } from '../offsite/emulator.js';
import { PACKAGE_PARTS } from '../offsite/emulator.js';

export interface SpectralDisclosure {
  path: string;
  rank: number;
  /** Σ kept σ² / Σ σ² of the original weight. */
  energyShipped: number;
}

export interface BlockDisclosure {
  block: number;
  role: string;
  parameters: number;
  verbatim: number;
  /** SRC targets of this block (absent when it has none). */
  spectral?: SpectralDisclosure[];
}

export interface Disclosure {
  parameters: number;
  verbatim: number;
  verbatimFraction: number;
  trunk: { parameters: number; verbatim: number };
  blocks: BlockDisclosure[];
  /** Over all SRC targets: Σ kept σ² / Σ σ² (null when nothing is compressed). */
  energyShipped: number | null;
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

/** The disclosure of `emu` about `model` (the model it was made from). */
export function disclosure(model: CausalLM, emu: Emulator): Disclosure {
  const spec = model.spec;
  const shipped = new Map<string, ArrayLike<number>>();
  for (const part of PACKAGE_PARTS) for (const t of emu.parts[part]) shipped.set(t.name, t.data);
  const n = model.blocks.length;
  const roles = emu.description.plan.roles;
  const blocks: BlockDisclosure[] = Array.from({ length: n }, (_, i) => ({ block: i, role: roles[i], parameters: 0, verbatim: 0 }));
  const trunk = { parameters: 0, verbatim: 0 };
  const weights = new Map<string, ArrayLike<number>>();
  for (const t of model.hfTensors()) {
    weights.set(t.name, t.data);
    const i = blockIndexOf(spec, t.name);
    const into = i < 0 ? trunk : blocks[i];
    into.parameters += t.data.length;
    const s = shipped.get(t.name);
    if (s && sameValues(s, t.data)) into.verbatim += t.data.length;
  }
  let kept = 0, total = 0;
  for (const { block, reports } of emu.description.src) {
    blocks[block].spectral = reports.map((r) => {
      const w = weights.get(spec.hfName(`${blockPrefix(spec, block)}${r.path}.weight`));
      if (!w) throw new Error(`disclosure: the model has no weight for block ${block}'s ${r.path}`);
      let energy = 0;
      for (let k = 0; k < w.length; k++) energy += w[k] * w[k];
      const lost = r.frobeniusError * r.frobeniusError;
      kept += energy - lost;
      total += energy;
      return { path: r.path, rank: r.rank, energyShipped: energy > 0 ? 1 - lost / energy : 1 };
    });
  }
  const parameters = trunk.parameters + blocks.reduce((a, b) => a + b.parameters, 0);
  const verbatim = trunk.verbatim + blocks.reduce((a, b) => a + b.verbatim, 0);
  return { parameters, verbatim, verbatimFraction: verbatim / parameters, trunk, blocks, energyShipped: total > 0 ? kept / total : null };
}
