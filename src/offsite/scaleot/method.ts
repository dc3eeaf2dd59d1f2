// ScaleOT in the method registry: importance scores and harmonizers from Dynamic
// LayerReplace, the plan of Eqs. 8-11 and SRC on the remaining blocks — and its ablation
// without SRC (the remaining blocks in full).
import { buildEmulator } from '../emulator.js';
import type { OffsiteMethod } from '../methods.js';

export const scaleotMethod: OffsiteMethod = {
  name: 'scaleot',
  label: 'ScaleOT',
  needs: { importance: true },
  settings: (base) => ({ ...base, noSrc: false }),
  build: (ctx) => buildEmulator(ctx.loadModel(), ctx.importance(), ctx.settings, { log: ctx.log }),
};

export const scaleotNoSrcMethod: OffsiteMethod = {
  ...scaleotMethod,
  name: 'scaleot-no-src',
  label: 'ScaleOT w/o SRC',
  settings: (base) => ({ ...base, noSrc: true }),
};
