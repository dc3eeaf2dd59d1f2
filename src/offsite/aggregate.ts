// Several data owners tuned adapters on one emulator; the model owner combines them into one
// adapter (FedAvg) that plugs in like any other. Each adapter is checked first: its files
// against their sha256, its binding to this very emulator package, the same tuner and
// adapter blocks as the others. The tuner does the arithmetic (peft/tuner.ts aggregate):
// the weighted mean of the deltas, exact for full tuning and LoRA.
import { join } from 'node:path';
import { readJsonObject } from '../io/checkpoint.js';
import { SafetensorsFile } from '../io/safetensors.js';
import { sha256File, verifyFiles } from '../io/hash.js';
import { Parameter } from '../nn/module.js';
import { getTuner } from '../peft/registry.js';
import { readEmulatorManifest } from './emulator_package.js';
import { ADAPTER_FORMAT, writeAdapterPackage, type AdapterManifest } from './tune.js';

export class AggregationError extends Error {
  override name = 'AggregationError';
}

function readAdapter(dir: string): { manifest: AdapterManifest; tensors: Map<string, Float32Array>; shapes: Map<string, readonly number[]> } {
  const manifest = readJsonObject(join(dir, 'manifest.json')) as unknown as AdapterManifest;
  if (manifest.format !== ADAPTER_FORMAT) throw new AggregationError(`${dir}/manifest.json: format ${JSON.stringify(manifest.format)}, expected ${ADAPTER_FORMAT}`);
  verifyFiles(dir, manifest.files ?? {}, (m) => new AggregationError(m), 'tampered or corrupt');
  const st = SafetensorsFile.open(join(dir, 'adapter.safetensors'));
  const tensors = new Map<string, Float32Array>(), shapes = new Map<string, readonly number[]>();
  try {
    for (const name of st.names()) {
      tensors.set(name, st.readFloat32(name, true));
      shapes.set(name, st.info(name).shape);
    }
  } finally {
    st.close();
  }
  return { manifest, tensors, shapes };
}

/**
 * Aggregates the adapters in `adapterDirs` (all tuned on the emulator package `pkg`) with
 * `weights` (non-negative, normalised to sum 1) into a new adapter package at outDir.
 */
export function aggregateAdapters(pkg: string, adapterDirs: string[], weights: number[], outDir: string): AdapterManifest {
  if (adapterDirs.length === 0) throw new AggregationError('aggregate: no adapters given');
  if (weights.length !== adapterDirs.length || weights.some((w) => !(w >= 0)) || !(weights.reduce((a, b) => a + b, 0) > 0)) {
    throw new AggregationError(`aggregate: ${weights.length} weights for ${adapterDirs.length} adapters; they must be non-negative with a positive sum`);
  }
  const total = weights.reduce((a, b) => a + b, 0);
  const emu = readEmulatorManifest(pkg);
  const binding = sha256File(join(pkg, 'manifest.json'));
  const adapters = adapterDirs.map(readAdapter);
  const [first] = adapters;
  adapters.forEach(({ manifest: m }, k) => {
    if (m.emulator?.manifest_sha256 !== binding) throw new AggregationError(`${adapterDirs[k]}: tuned on another emulator than ${pkg}`);
    if (m.method !== first.manifest.method) throw new AggregationError(`${adapterDirs[k]}: ${m.method} tuning, the first adapter is ${first.manifest.method}`);
    if (m.adapter_blocks.join() !== first.manifest.adapter_blocks.join()) throw new AggregationError(`${adapterDirs[k]}: adapter blocks [${m.adapter_blocks}], the first adapter's are [${first.manifest.adapter_blocks}]`);
  });
  const tuner = getTuner(first.manifest.method);
  const members = adapters.map((a, k) => ({ tensors: a.tensors, shapes: a.shapes, config: tuner.configFromManifest?.(a.manifest), weight: weights[k] / total }));
  const out = tuner.aggregate(members);
  const named: [string, Parameter][] = [...out.tensors].map(([name, data]): [string, Parameter] => [name, new Parameter(data, [...out.shapes.get(name)!])]);
  const lr = adapters.reduce((a, x, k) => a + members[k].weight * x.manifest.lr, 0);
  return writeAdapterPackage(outDir, pkg, emu, first.manifest.method, lr, named, out.config, {
    aggregated_from: adapterDirs.map((dir, k) => ({ manifest_sha256: sha256File(join(dir, 'manifest.json')), weight: members[k].weight })),
  });
}
