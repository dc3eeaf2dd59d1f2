// Parameter counts from a config alone (no weights), for the paper's Table 3: LoRA r on
// every linear weight of the adapted blocks, two bottleneck adapters of width w per block.
// The block's linear layers and hidden size come from the architecture's spec.
import type { LinearShape } from '../models/causal_lm.js';
import { specFromHF } from '../models/load.js';

export type { LinearShape };

/** The linear layers of one block, from a Hugging Face config (attention, then FFN). */
export function blockLinearShapes(hf: Record<string, unknown>): LinearShape[] {
  const spec = specFromHF(hf);
  return [...spec.attentionLinears, ...spec.ffnLinears];
}

/** LoRA rank r on all linear weights of `blocks` blocks: r (in + out) per matrix. */
export function loraParameterCount(hf: Record<string, unknown>, blocks: number, r = 4): number {
  return blocks * blockLinearShapes(hf).reduce((a, l) => a + r * (l.in + l.out), 0);
}

/** Two bottleneck adapters of width w per block: 2 (2 C w + w + C). */
export function bottleneckParameterCount(hf: Record<string, unknown>, blocks: number, width = 64): number {
  const C = specFromHF(hf).hiddenSize;
  return blocks * 2 * (2 * C * width + width + C);
}
