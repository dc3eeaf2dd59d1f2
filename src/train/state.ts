// Resumable training state: weights, AdamW moments and a small JSON record, written to a
// temporary directory and renamed into place, so an interrupted run resumes exactly.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Module } from '../nn/module.js';
import type { AdamW } from '../optim/adamw.js';
import { SafetensorsFile, writeSafetensors } from '../io/safetensors.js';
import { writeDirectoryAtomic } from '../io/atomic.js';
import { moduleTensors } from '../io/parameters.js';

export function saveTrainState(dir: string, model: Module, opt: AdamW, record: Record<string, unknown>): void {
  writeDirectoryAtomic(dir, (tmp) => {
    writeSafetensors(join(tmp, 'weights.safetensors'), moduleTensors(model));
    const sd = opt.stateDict();
    writeSafetensors(join(tmp, 'optimizer.safetensors'), sd.moments.flatMap((mo) => [
      { name: `m.${mo.index}`, dtype: 'F32' as const, shape: [mo.expAvg.length], data: Float32Array.from(mo.expAvg) },
      { name: `v.${mo.index}`, dtype: 'F32' as const, shape: [mo.expAvgSq.length], data: Float32Array.from(mo.expAvgSq) },
    ]));
    const parameterSteps = Object.fromEntries(sd.moments.map((mo) => [String(mo.index), mo.step]));
    writeFileSync(join(tmp, 'state.json'), JSON.stringify({ ...record, optimizer_step: sd.step, optimizer_parameter_steps: parameterSteps, lr: sd.lr }));
  });
}

/** Restores weights and optimizer state; returns the saved record, or null if none. */
export function loadTrainState(dir: string, model: Module, opt: AdamW): Record<string, unknown> | null {
  if (!existsSync(join(dir, 'state.json'))) return null;
  const record = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as Record<string, unknown>;
  const w = SafetensorsFile.open(join(dir, 'weights.safetensors'));
  try {
    for (const [name, p] of model.namedParameters()) p.data.set(w.readFloat32(name));
  } finally {
    w.close();
  }
  const params = opt.groups.flatMap((g) => g.params);
  // Absent in states written before AdamW counted steps per parameter: the global count then.
  const parameterSteps = (record.optimizer_parameter_steps ?? {}) as Record<string, number>;
  const m = SafetensorsFile.open(join(dir, 'optimizer.safetensors'));
  try {
    const moments = params
      .map((_, i) => i)
      .filter((i) => m.has(`m.${i}`))
      .map((i) => ({ index: i, step: parameterSteps[String(i)], expAvg: m.readFloat32(`m.${i}`), expAvgSq: m.readFloat32(`v.${i}`) }));
    opt.loadStateDict({ step: record.optimizer_step as number, lr: record.lr as number, moments });
  } finally {
    m.close();
  }
  return record;
}
