// The emulator package the model owner hands out (METHOD.md Stage 2): a directory with
//   manifest.json          format version, the source model's fingerprint, the plan,
//                          (N_a, α, β), parameter counts, sha256 of every file;
//   config.json, tokenizer the source model's config and tokenizer files;
//   trunk.safetensors      embeddings, final norm, head (frozen in every setting);
//   adapters.safetensors   the N_a adapter blocks in full (what the data owner tunes);
//   harmonizers.safetensors the harmonizers of the replaced blocks (none of their weights);
//   compressed.safetensors the other blocks after SRC(m_i, β): untouched parts in full and
//                          only rank-r factors (or the dense rank-r product) of the targets.
// By construction the package holds no original weight of a harmonized block and no more
// than rank r of any compressed weight. β = 0 or --no-src ship those blocks in full, and
// the manifest says so.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Architecture, Block, CausalLM } from '../models/causal_lm.js';
import { loadModel, emptyModel, hfNameOf, blockPrefix } from '../models/load.js';
import { Checkpoint, readJsonObject } from '../io/checkpoint.js';
import { SafetensorsFile, writeSafetensors, TensorToWrite } from '../io/safetensors.js';
import { hiddenSize } from '../peft/count.js';
import { TOKENIZER_FILES } from '../tokenizer/tokenizer.js';
import { Module, ModuleList } from '../nn/module.js';
import { modelFingerprint } from './fingerprint.js';
import { LayerPlan, planEmulator, Role } from './scaleot/plan.js';
import { applySrc, LowRankLinear, SrcReport } from './scaleot/src.js';
import { Harmonizer } from './scaleot/harmonizer.js';
import { loadImportance } from './scaleot/importance.js';
import type { SrcTarget } from './linear_targets.js';
import type { BaselinePlan } from './baselines/uniform_drop.js';
import type { Tensor } from '../tensor/tensor.js';
import { setPath } from './linear_targets.js';

export const EMULATOR_FORMAT = 'scaleot-emulator/1';

export type EmulatorKind = 'scaleot' | 'dynamic-drop' | 'uniform-drop' | 'crash';

export interface EmulatorSettings {
  numAdapters: number; // N_a, default 4
  alpha: number; // fraction of all blocks harmonized, default 0.25
  beta: number; // SRC strength, default 0.8
  srcTarget: SrcTarget; // 'attn' (default), 'ffn', 'all'
  noSrc: boolean; // ScaleOT without SRC: remaining blocks in full
  numGroups: number; // N_g = 4
}

export const DEFAULT_EMULATOR: EmulatorSettings = { numAdapters: 4, alpha: 0.25, beta: 0.8, srcTarget: 'attn', noSrc: false, numGroups: 4 };

export interface EmulatorManifest {
  format: string;
  /** Which method made the plan (ScaleOT, or a baseline of METHOD.md). */
  kind: EmulatorKind;
  source: { fingerprint: string; architecture: string; blocks: number };
  settings: EmulatorSettings;
  plan: {
    roles: Role[]; scores: number[]; groups: number[][]; adapters: number[]; harmonized: number[]; compressed: number[];
    /** Baselines: kept blocks, dropped blocks, and shared slots (slot -> kept block). */
    kept?: number[]; dropped?: number[]; shared_with?: Record<number, number>;
  };
  harmonizer_rank: number;
  src: { block: number; reports: SrcReport[] }[];
  /** True when the non-adapter, non-harmonized blocks ship uncompressed (β = 0 or --no-src). */
  compressed_blocks_in_full: boolean;
  statements: string[];
  parameters: { full_model: number; emulator: number; trunk: number; adapters: number; harmonizers: number; compressed: number; relative_size: number };
  files: Record<string, string>; // name -> sha256
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

const count = (ts: TensorToWrite[]) => ts.reduce((a, t) => a + t.data.length, 0);

function tensorsOf(module: Module, prefix: string): TensorToWrite[] {
  return module.namedParameters().map(([name, p]) => ({ name: hfNameOf(prefix + name), dtype: 'F32' as const, shape: p.shape, data: p.data as Float32Array }));
}

/** Block index of a checkpoint tensor name, or -1 for the trunk. */
function blockIndexOf(arch: Architecture, n: number): (name: string) => number {
  return (name) => {
    for (let i = 0; i < n; i++) if (name.startsWith(blockPrefix(arch, i))) return i;
    return -1;
  };
}

type PackageParts = Record<'trunk' | 'adapters' | 'harmonizers' | 'compressed', TensorToWrite[]>;

/**
 * Writes a package directory atomically (a temporary directory renamed into place): the
 * four tensor files, config.json and the model's tokenizer files, then the manifest that
 * `manifestOf` builds from the sha256 of every file written.
 */
function writePackage(outDir: string, modelDir: string, config: Record<string, unknown>, parts: PackageParts, manifestOf: (files: Record<string, string>) => EmulatorManifest): EmulatorManifest {
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const [part, tensors] of Object.entries(parts)) writeSafetensors(join(tmp, `${part}.safetensors`), tensors, { format: 'pt' });
  writeFileSync(join(tmp, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  for (const f of TOKENIZER_FILES) if (existsSync(join(modelDir, f))) copyFileSync(join(modelDir, f), join(tmp, f));
  const files: Record<string, string> = {};
  for (const f of [...Object.keys(parts).map((p) => `${p}.safetensors`), 'config.json', ...TOKENIZER_FILES]) {
    if (existsSync(join(tmp, f))) files[f] = sha256File(join(tmp, f));
  }
  const manifest = manifestOf(files);
  writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
  return manifest;
}

/** Builds an emulator package from a model, its importance results and (N_a, α, β). */
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
  const arch = model.architecture;
  const hidden = hiddenSize(arch, model.hfConfig);
  const fingerprint = modelFingerprint(model);
  const imp = loadImportance(importanceDir, hidden);
  const n = model.blocks.length;
  if (imp.scores.length !== n) throw new Error(`${importanceDir}: ${imp.scores.length} scores for a model of ${n} blocks`);
  const plan: LayerPlan = planEmulator(imp.scores, { numAdapters: settings.numAdapters, alpha: settings.alpha, numGroups: settings.numGroups });
  const fullSrc = settings.noSrc || settings.beta === 0;

  const all = model.hfTensors();
  const blockOf = blockIndexOf(arch, n);
  const trunk = all.filter((t) => blockOf(t.name) < 0);
  const adapters = all.filter((t) => plan.roles[blockOf(t.name)] === 'adapter');
  const dropHarmonized = !!opts.dropHarmonized;
  const harmonizers: TensorToWrite[] = dropHarmonized ? [] : plan.harmonized.flatMap((i) => tensorsOf(imp.bank.harmonizer.at(i), `harmonizer.${i}.`));
  const roles: Role[] = plan.roles.map((r) => (dropHarmonized && r === 'harmonized' ? 'dropped' : r));
  const compressed: TensorToWrite[] = [];
  const src: EmulatorManifest['src'] = [];
  for (const i of plan.compressed) {
    const block = model.blocks.at(i);
    if (!fullSrc) {
      log(`SRC on block ${i} (β = ${settings.beta}, ${settings.srcTarget})`);
      src.push({ block: i, reports: applySrc(block, arch, settings.beta, settings.srcTarget) });
    }
    compressed.push(...tensorsOf(block, blockPrefix(arch, i)));
  }

  const fullCount = count(all);
  const emuCount = count(trunk) + count(adapters) + count(harmonizers) + count(compressed);
  const statements = [
    dropHarmonized
      ? `blocks ${plan.harmonized.join(', ') || '(none)'} are dropped (Dynamic LayerDrop): the package holds nothing of them`
      : `blocks ${plan.harmonized.join(', ') || '(none)'} are harmonized: the package holds only their harmonizers`,
    fullSrc
      ? `blocks ${plan.compressed.join(', ') || '(none)'} ship in full (${settings.noSrc ? 'ScaleOT without SRC' : 'β = 0'})`
      : `blocks ${plan.compressed.join(', ') || '(none)'} hold their ${settings.srcTarget} weights only at rank r = max(1, round((1 - β) min(rows, cols))), β = ${settings.beta}`,
    `blocks ${plan.adapters.join(', ')} are the adapters, in full`,
  ];
  return writePackage(outDir, modelDir, model.hfConfig, { trunk, adapters, harmonizers, compressed }, (files) => ({
    format: EMULATOR_FORMAT,
    kind: dropHarmonized ? 'dynamic-drop' : 'scaleot',
    source: { fingerprint, architecture: arch, blocks: n },
    settings,
    plan: {
      roles, scores: plan.scores, groups: plan.groups, adapters: plan.adapters,
      harmonized: dropHarmonized ? [] : plan.harmonized, compressed: plan.compressed,
      ...(dropHarmonized ? { dropped: plan.harmonized } : {}),
    },
    harmonizer_rank: imp.config.rank,
    src,
    compressed_blocks_in_full: fullSrc,
    statements,
    parameters: {
      full_model: fullCount, emulator: emuCount, trunk: count(trunk), adapters: count(adapters), harmonizers: count(harmonizers),
      compressed: count(compressed), relative_size: emuCount / fullCount,
    },
    files,
  }));
}

/** Reads a package's manifest and checks every file against its sha256. */
export function readEmulatorManifest(pkg: string): EmulatorManifest {
  const m = readJsonObject(join(pkg, 'manifest.json')) as unknown as EmulatorManifest;
  if (m.format !== EMULATOR_FORMAT) throw new Error(`${pkg}/manifest.json: format ${JSON.stringify(m.format)}, expected ${EMULATOR_FORMAT}`);
  for (const [f, sum] of Object.entries(m.files ?? {})) {
    const path = join(pkg, f);
    if (!existsSync(path)) throw new Error(`${pkg}: ${f} is listed in the manifest but missing`);
    if (sha256File(path) !== sum) throw new Error(`${pkg}: ${f} does not match its sha256 in the manifest (altered or corrupt)`);
  }
  return m;
}

function loadTensors(target: Module, prefix: string, file: SafetensorsFile): void {
  for (const [name, p] of target.namedParameters()) {
    const key = hfNameOf(prefix + name);
    if (!file.has(key)) throw new Error(`${file.path}: missing tensor "${key}"`);
    const info = file.info(key);
    if (info.shape.join() !== p.shape.join()) throw new Error(`${file.path}: "${key}" has shape [${info.shape}], expected [${p.shape}]`);
    p.data.set(file.readFloat32(key));
  }
}

/** The data owner's model [A, E*]: adapters trainable, everything else as shipped. */
export function loadEmulator(pkg: string): { model: CausalLM; manifest: EmulatorManifest } {
  const manifest = readEmulatorManifest(pkg);
  const config = readJsonObject(join(pkg, 'config.json'));
  const model = emptyModel(config, `${pkg}/config.json`);
  const arch = model.architecture;
  const hidden = hiddenSize(arch, config);
  const n = model.blocks.length;
  if (n !== manifest.source.blocks) throw new Error(`${pkg}: config has ${n} blocks, the manifest ${manifest.source.blocks}`);
  const open = (f: string) => SafetensorsFile.open(join(pkg, f));
  const trunk = open('trunk.safetensors'), adapters = open('adapters.safetensors'), harm = open('harmonizers.safetensors'), comp = open('compressed.safetensors');
  try {
    const blocks = model.blocks as ModuleList<Block>;
    // The trunk: every parameter outside the blocks.
    const trunkOnly = new Set(model.namedParameters().map(([name]) => name).filter((name) => ![...Array(n).keys()].some((i) => name.startsWith(blockPrefix(arch, i)))));
    for (const [name, p] of model.namedParameters()) {
      if (!trunkOnly.has(name)) continue;
      const key = hfNameOf(name);
      if (!trunk.has(key)) throw new Error(`${trunk.path}: missing tensor "${key}"`);
      p.data.set(trunk.readFloat32(key));
    }
    manifest.plan.roles.forEach((role, i) => {
      if (role === 'adapter') loadTensors(blocks.at(i), blockPrefix(arch, i), adapters);
      else if (role === 'dropped') blocks.set(i, new DroppedBlock());
      else if (role === 'shared') return; // filled in below, once its kept block is loaded
      else if (role === 'kept') loadTensors(blocks.at(i), blockPrefix(arch, i), comp);
      else if (role === 'harmonized') {
        const h = new Harmonizer(hidden, manifest.harmonizer_rank);
        loadTensors(h, `harmonizer.${i}.`, harm);
        blocks.set(i, h);
      } else {
        const block = blocks.at(i);
        for (const r of manifest.src.find((s) => s.block === i)?.reports ?? []) {
          if (r.stored === 'factors') {
            const hasBias = comp.has(`${blockPrefix(arch, i)}${r.path}.bias`);
            setPath(block, r.path, new LowRankLinear(r.cols, r.rows, r.rank, hasBias));
          }
        }
        loadTensors(block, blockPrefix(arch, i), comp);
      }
    });
    for (const [slot, keptIdx] of Object.entries(manifest.plan.shared_with ?? {})) {
      if (manifest.plan.roles[keptIdx] !== 'kept') throw new Error(`${pkg}/manifest.json: slot ${slot} shares block ${keptIdx}, which is not kept`);
      blocks.set(Number(slot), blocks.at(keptIdx)); // the same module: shared weights
    }
  } finally {
    trunk.close();
    adapters.close();
    harm.close();
    comp.close();
  }
  return { model, manifest };
}

/** A removed block: the hidden states pass through unchanged (LayerDrop). */
export class DroppedBlock extends Module {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  forward(x: Tensor, ..._rest: unknown[]): Tensor {
    return x;
  }
}

/**
 * A baseline's emulator (OT uniform LayerDrop, CRaSh) in the same package format: adapters
 * and kept blocks in full, dropped blocks absent, shared slots pointing at a kept block.
 */
export function createBaselineEmulator(
  modelDir: string,
  kind: 'uniform-drop' | 'crash',
  plan: BaselinePlan,
  outDir: string,
  /** OT with distillation: the kept blocks' trained tensors replace the model's, and a note says so. */
  opts: { keptTensors?: TensorToWrite[]; note?: string } = {},
): EmulatorManifest {
  const model = loadModel(modelDir);
  const arch = model.architecture;
  const n = model.blocks.length;
  const roles: Role[] = new Array<Role>(n).fill('dropped');
  for (const i of plan.adapters) roles[i] = 'adapter';
  for (const i of plan.kept) roles[i] = 'kept';
  for (const i of Object.keys(plan.shared)) roles[Number(i)] = 'shared';
  const all = model.hfTensors();
  const blockOf = blockIndexOf(arch, n);
  const trunk = all.filter((t) => blockOf(t.name) < 0);
  const adapters = all.filter((t) => roles[blockOf(t.name)] === 'adapter');
  const kept = opts.keptTensors ?? all.filter((t) => roles[blockOf(t.name)] === 'kept');
  if (opts.keptTensors) {
    const expected = all.filter((t) => roles[blockOf(t.name)] === 'kept').map((t) => `${t.name}:${t.shape}`).sort().join();
    if (kept.map((t) => `${t.name}:${t.shape}`).sort().join() !== expected) throw new Error(`${kind} emulator: the replacement kept-block tensors do not match the kept blocks' names and shapes`);
  }
  const emu = count(trunk) + count(adapters) + count(kept);
  // The kept blocks go in compressed.safetensors, where the loader looks for non-adapter blocks.
  return writePackage(outDir, modelDir, model.hfConfig, { trunk, adapters, harmonizers: [], compressed: kept }, (files) => ({
    format: EMULATOR_FORMAT,
    kind,
    source: { fingerprint: modelFingerprint(model), architecture: arch, blocks: n },
    settings: { ...DEFAULT_EMULATOR, numAdapters: plan.adapters.length, alpha: (plan.dropped.length + Object.keys(plan.shared).length) / n, beta: 0, noSrc: true },
    plan: {
      roles, scores: [], groups: [], adapters: plan.adapters, harmonized: [], compressed: [],
      kept: plan.kept, dropped: plan.dropped, shared_with: plan.shared,
    },
    harmonizer_rank: 0,
    src: [],
    compressed_blocks_in_full: true,
    statements: [
      `${kind}: adapters [${plan.adapters}] and kept blocks [${plan.kept}] ship in full (compressed.safetensors holds the kept blocks)`,
      `dropped blocks [${plan.dropped}] are absent; shared slots ${JSON.stringify(plan.shared)} reuse a kept block's weights`,
      ...(opts.note ? [opts.note] : []),
    ],
    parameters: { full_model: count(all), emulator: emu, trunk: count(trunk), adapters: count(adapters), harmonizers: 0, compressed: count(kept), relative_size: emu / count(all) },
    files,
  }));
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

export { Checkpoint };
