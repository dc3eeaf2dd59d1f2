// Dynamic LayerDrop (ScaleOT Fig. 1b; METHOD.md "Baselines"): ScaleOT's learned scores and
// plan, but the blocks ScaleOT would harmonize are dropped and the rest ship in full.
import { buildEmulator } from '../emulator.js';
import type { OffsiteMethod } from '../methods.js';

export const dynamicDropMethod: OffsiteMethod = {
  name: 'dynamic-drop',
  label: 'Dynamic LayerDrop',
  needs: { importance: true },
  settings: (base) => ({ ...base, noSrc: true }),
  build: (ctx) => buildEmulator(ctx.loadModel(), ctx.importance(), ctx.settings, { dropHarmonized: true, log: ctx.log }),
};
