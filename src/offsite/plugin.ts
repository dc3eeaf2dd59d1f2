// The model owner's plug-in (METHOD.md Stage 3): M' = [A', E]. Everything is validated
// before anything is written: the package's files against their sha256, the format, the
// source model's fingerprint, that every tensor belongs to an adapter block under an
// expected name with the expected shape, and that every value is finite. Full adapters
// replace their blocks; LoRA deltas are merged into the base weights (fan_in_fan_out for
// GPT-2's Conv1D). The result is a normal Hugging Face checkpoint. Bottleneck adapters add
// modules that no plain checkpoint can hold: attachAdapter() applies them in process.
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { trainedInFloat32, type CausalLM } from '../models/causal_lm.js';
import { loadModel } from '../models/load.js';
import { readJsonObject, saveCheckpoint } from '../io/checkpoint.js';
import { SafetensorsFile } from '../io/safetensors.js';
import { verifyFiles } from '../io/hash.js';
import { getTuner, tunerNames } from '../peft/registry.js';
import { modelFingerprint } from './fingerprint.js';
import { TOKENIZER_FILES } from '../tokenizer/tokenizer.js';
import { ADAPTER_FORMAT, AdapterManifest } from './tune.js';

export class PluginError extends Error {
  override name = 'PluginError';
}

/** Reads and checks an adapter package against a model; returns its tensors, unapplied. */
export function validateAdapter(model: CausalLM, adapterDir: string): { manifest: AdapterManifest; tensors: Map<string, Float32Array> } {
  const mpath = join(adapterDir, 'manifest.json');
  if (!existsSync(mpath)) throw new PluginError(`${adapterDir}: no manifest.json (not an adapter package)`);
  const manifest = readJsonObject(mpath) as unknown as AdapterManifest;
  if (manifest.format !== ADAPTER_FORMAT) throw new PluginError(`${mpath}: format ${JSON.stringify(manifest.format)}, expected ${ADAPTER_FORMAT}`);
  if (!tunerNames().includes(manifest.method)) throw new PluginError(`${mpath}: unknown method ${JSON.stringify(manifest.method)}`);
  const tuner = getTuner(manifest.method);
  verifyFiles(adapterDir, manifest.files ?? {}, (message) => new PluginError(message), 'tampered or corrupt');
  if (!manifest.files?.['adapter.safetensors']) throw new PluginError(`${mpath}: adapter.safetensors is not listed`);
  const fp = modelFingerprint(model);
  if (manifest.source_fingerprint !== fp) {
    throw new PluginError(`${adapterDir}: made for a different model (fingerprint ${String(manifest.source_fingerprint).slice(0, 16)}…, this model is ${fp.slice(0, 16)}…)`);
  }
  if (manifest.architecture !== model.architecture) throw new PluginError(`${mpath}: architecture ${manifest.architecture}, model is ${model.architecture}`);
  const n = model.blocks.length;
  const blocks = manifest.adapter_blocks;
  if (!Array.isArray(blocks) || blocks.length === 0 || !blocks.every((i) => Number.isInteger(i) && i >= 0 && i < n) || new Set(blocks).size !== blocks.length) {
    throw new PluginError(`${mpath}: adapter_blocks ${JSON.stringify(blocks)} must be distinct block indices in [0, ${n})`);
  }
  // The names and shapes the method would produce on this model's adapter blocks.
  const probe = tuner.expectedShapes(model, manifest.adapter_blocks, tuner.configFromManifest?.(manifest));
  const st = SafetensorsFile.open(join(adapterDir, 'adapter.safetensors'));
  const tensors = new Map<string, Float32Array>();
  try {
    for (const name of st.names()) {
      const want = probe.get(name);
      if (!want) throw new PluginError(`${st.path}: tensor "${name}" is not a ${manifest.method} parameter of adapter blocks [${blocks.join(', ')}]`);
      const info = st.info(name);
      if (!['F32', 'F16', 'BF16'].includes(info.dtype)) throw new PluginError(`${st.path}: tensor "${name}" has dtype ${info.dtype}; expected F32, F16 or BF16`);
      if (info.shape.join() !== want.join()) throw new PluginError(`${st.path}: tensor "${name}" has shape [${info.shape}], expected [${want}]`);
      tensors.set(name, st.readFloat32(name, true)); // throws on NaN / infinity, naming the tensor
    }
  } catch (e) {
    if (e instanceof PluginError) throw e;
    throw new PluginError((e as Error).message);
  } finally {
    st.close();
  }
  for (const name of probe.keys()) if (!tensors.has(name)) throw new PluginError(`${adapterDir}/adapter.safetensors: missing tensor "${name}"`);
  return { manifest, tensors };
}

/** Applies validated adapter tensors to the model in place (the tuner's layers, then the values). */
export function attachAdapter(model: CausalLM, manifest: AdapterManifest, tensors: Map<string, Float32Array>): void {
  const tuner = getTuner(manifest.method);
  const named = tuner.prepare(model, manifest.adapter_blocks, { seed: 0, config: tuner.configFromManifest?.(manifest) });
  for (const [n, p] of named) p.data.set(tensors.get(n)!);
  model.requiresGrad(false);
}

/** Plug-in: validate, apply, merge, and write a normal checkpoint to outDir. */
export function plugIn(modelDir: string, adapterDir: string, outDir: string): { manifest: AdapterManifest } {
  const model = loadModel(modelDir);
  const { manifest, tensors } = validateAdapter(model, adapterDir);
  const tuner = getTuner(manifest.method);
  if (!tuner.merge) {
    throw new PluginError(`${adapterDir}: ${manifest.method} tuning (${tuner.description}) adds modules a plain checkpoint cannot hold; use the library's attachAdapter() (the experiment runner does) instead of writing a checkpoint`);
  }
  attachAdapter(model, manifest, tensors);
  tuner.merge(model, manifest.adapter_blocks);
  const tuned = manifest.adapter_blocks.flatMap((i) => model.blocks.at(i).parameters());
  saveCheckpoint(outDir, model.hfConfig, trainedInFloat32(model.hfTensors(), tuned));
  for (const f of TOKENIZER_FILES) if (existsSync(join(modelDir, f))) copyFileSync(join(modelDir, f), join(outDir, f));
  return { manifest };
}
