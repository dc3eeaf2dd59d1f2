// The emulator package on disk: a directory with
//   manifest.json           format version, the source model's fingerprint, the plan,
//                           (N_a, α, β), parameter counts, sha256 of every file;
//   config.json, tokenizer  the source model's config and tokenizer files;
//   trunk / adapters / harmonizers / compressed .safetensors   the emulator's parts.
// Written atomically (a temporary directory renamed into place); every file is checked
// against the manifest's sha256 before anything is read. Also the disk-level entry points
// (createEmulator, createBaselineEmulator) that load a model, build and write.
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CausalLM } from '../models/causal_lm.js';
import { loadModel } from '../models/load.js';
import { readJsonObject } from '../io/checkpoint.js';
import { SafetensorsFile, writeSafetensors, TensorToWrite } from '../io/safetensors.js';
import { writeDirectoryAtomic } from '../io/atomic.js';
import { sha256Files, verifyFiles } from '../io/hash.js';
import { TOKENIZER_FILES } from '../tokenizer/tokenizer.js';
import { loadImportance } from './scaleot/importance.js';
import type { BaselinePlan } from './baselines/uniform_drop.js';
import {
  Emulator, EmulatorManifest, EmulatorSettings, EMULATOR_FORMAT, PACKAGE_PARTS, PackagePart, buildBaselineEmulator, buildEmulator, instantiateEmulator,
} from './emulator.js';

/** Writes an emulator package (with the tokenizer files found in tokenizerDir); returns its manifest. */
export function writeEmulatorPackage(outDir: string, emu: Emulator, tokenizerDir: string): EmulatorManifest {
  return writeDirectoryAtomic(outDir, (tmp) => {
    for (const part of PACKAGE_PARTS) writeSafetensors(join(tmp, `${part}.safetensors`), emu.parts[part], { format: 'pt' });
    writeFileSync(join(tmp, 'config.json'), JSON.stringify(emu.config, null, 2) + '\n');
    for (const f of TOKENIZER_FILES) if (existsSync(join(tokenizerDir, f))) copyFileSync(join(tokenizerDir, f), join(tmp, f));
    const files = sha256Files(tmp, [...PACKAGE_PARTS.map((p) => `${p}.safetensors`), 'config.json', ...TOKENIZER_FILES]);
    const manifest: EmulatorManifest = { ...emu.description, files };
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    return manifest;
  });
}

/** Reads a package's manifest and checks every file against its sha256. */
export function readEmulatorManifest(pkg: string): EmulatorManifest {
  const m = readJsonObject(join(pkg, 'manifest.json')) as unknown as EmulatorManifest;
  if (m.format !== EMULATOR_FORMAT) throw new Error(`${pkg}/manifest.json: format ${JSON.stringify(m.format)}, expected ${EMULATOR_FORMAT}`);
  verifyFiles(pkg, m.files ?? {}, (message) => new Error(message));
  return m;
}

function readPart(pkg: string, part: PackagePart): TensorToWrite[] {
  const f = SafetensorsFile.open(join(pkg, `${part}.safetensors`));
  try {
    return f.names().map((name) => ({ name, dtype: 'F32' as const, shape: f.info(name).shape, data: f.readFloat32(name) }));
  } finally {
    f.close();
  }
}

/** A package read into memory (checked first), to instantiate as often as needed. */
export function readEmulatorPackage(pkg: string): { emulator: Emulator; manifest: EmulatorManifest } {
  const manifest = readEmulatorManifest(pkg);
  const { files: _files, ...description } = manifest;
  const parts = Object.fromEntries(PACKAGE_PARTS.map((p) => [p, readPart(pkg, p)])) as Emulator['parts'];
  return { emulator: { description, config: readJsonObject(join(pkg, 'config.json')), parts }, manifest };
}

/** The data owner's model [A, E*] from a package directory. */
export function loadEmulator(pkg: string): { model: CausalLM; manifest: EmulatorManifest } {
  const { emulator, manifest } = readEmulatorPackage(pkg);
  return { model: instantiateEmulator(emulator, pkg), manifest };
}

/** Builds ScaleOT's emulator package from a model directory and an importance directory. */
export function createEmulator(
  modelDir: string,
  importanceDir: string,
  settings: EmulatorSettings,
  outDir: string,
  log: (s: string) => void = () => {},
  /** Dynamic LayerDrop (Fig. 1b): ScaleOT's scores and plan, the harmonized blocks dropped. */
  opts: { dropHarmonized?: boolean } = {},
): EmulatorManifest {
  const model = loadModel(modelDir);
  const imp = loadImportance(importanceDir, model.spec.hiddenSize);
  if (imp.scores.length !== model.blocks.length) throw new Error(`${importanceDir}: ${imp.scores.length} scores for a model of ${model.blocks.length} blocks`);
  const emu = buildEmulator(model, { scores: imp.scores, bank: imp.bank, rank: imp.config.rank }, settings, { ...opts, log });
  return writeEmulatorPackage(outDir, emu, modelDir);
}

/** A baseline's emulator package (OT uniform LayerDrop, CRaSh) from a model directory. */
export function createBaselineEmulator(
  modelDir: string,
  kind: 'uniform-drop' | 'crash',
  plan: BaselinePlan,
  outDir: string,
  opts: { keptTensors?: TensorToWrite[]; note?: string } = {},
): EmulatorManifest {
  return writeEmulatorPackage(outDir, buildBaselineEmulator(loadModel(modelDir), kind, plan, opts), modelDir);
}

/** Checkpoint names in a package file (for audits and tests). */
export function packageTensorNames(pkg: string, file: string): string[] {
  const f = SafetensorsFile.open(join(pkg, file));
  try {
    return f.names();
  } finally {
    f.close();
  }
}
