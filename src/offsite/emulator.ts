// The emulator the model owner hands out (METHOD.md Stage 2), in memory: what it holds,
// how ScaleOT and the baselines build it from a model, and how the data owner's model
// [A, E*] is made from it. Writing and reading the package directory is a separate step
// (emulator_package.ts). An emulator holds
//   trunk        embeddings, final norm, head (frozen in every setting);
//   adapters     the N_a adapter blocks in full (what the data owner tunes);
//   harmonizers  the harmonizers of the replaced blocks (none of their weights);
//   compressed   the other blocks after SRC(m_i, β): untouched parts in full and only
//                rank-r factors (or the dense rank-r product) of the targets — or, for the
//                baselines, the kept blocks as they are.
// By construction it holds no original weight of a harmonized block and no more than rank
// r of any compressed weight. β = 0 or noSrc ship those blocks in full, and it says so.
import type { Block, CausalLM, LinearTarget } from '../models/causal_lm.js';
import { blockIndexOf, blockPrefix } from '../models/causal_lm.js';
import { emptyModel } from '../models/load.js';
import type { TensorToWrite } from '../io/safetensors.js';
import { moduleTensors, readModuleTensors, memoryTensors, TensorSource } from '../io/parameters.js';
import { Module, ModuleList } from '../nn/module.js';
import { setPath } from '../nn/paths.js';
import type { Tensor } from '../tensor/tensor.js';
import { modelFingerprint } from './fingerprint.js';
import { LayerPlan, planEmulator, Role } from './scaleot/plan.js';
import { applySrc, LowRankLinear, SrcReport } from './scaleot/src.js';
import { Harmonizer } from './scaleot/harmonizer.js';
import type { HarmonizerBank } from './scaleot/importance.js';
import type { BaselinePlan } from './baselines/uniform_drop.js';

export const EMULATOR_FORMAT = 'scaleot-emulator/1';

export type EmulatorKind = 'scaleot' | 'dynamic-drop' | 'uniform-drop' | 'crash';

/** SRC's targets are the architecture's linear-layer groups. */
export type SrcTarget = LinearTarget;

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

/** Everything the manifest says except the file hashes (known once written). */
export type EmulatorDescription = Omit<EmulatorManifest, 'files'>;

export const PACKAGE_PARTS = ['trunk', 'adapters', 'harmonizers', 'compressed'] as const;
export type PackagePart = (typeof PACKAGE_PARTS)[number];

/** An emulator in memory: its description, the source model's config and its tensors. */
export interface Emulator {
  description: EmulatorDescription;
  config: Record<string, unknown>;
  parts: Record<PackagePart, TensorToWrite[]>;
}

/** Importance results as ScaleOT's emulator needs them. */
export interface ImportanceInput {
  scores: number[];
  bank: HarmonizerBank;
  rank: number;
}

const count = (ts: TensorToWrite[]) => ts.reduce((a, t) => a + t.data.length, 0);

/** The model's tensors split into the trunk and the blocks, under checkpoint names. */
function splitTensors(model: CausalLM): { all: TensorToWrite[]; trunk: TensorToWrite[]; ofRole: (roles: Role[], role: Role) => TensorToWrite[] } {
  const all = model.hfTensors();
  const blockOf = (t: TensorToWrite) => blockIndexOf(model.spec, t.name);
  return {
    all,
    trunk: all.filter((t) => blockOf(t) < 0),
    ofRole: (roles, role) => all.filter((t) => roles[blockOf(t)] === role),
  };
}

function parameterCounts(all: TensorToWrite[], parts: Record<PackagePart, TensorToWrite[]>): EmulatorDescription['parameters'] {
  const emulator = PACKAGE_PARTS.reduce((a, p) => a + count(parts[p]), 0);
  return {
    full_model: count(all), emulator, trunk: count(parts.trunk), adapters: count(parts.adapters), harmonizers: count(parts.harmonizers),
    compressed: count(parts.compressed), relative_size: emulator / count(all),
  };
}

/**
 * ScaleOT's emulator from a model, its importance results and (N_a, α, β). The model's
 * compressed blocks are replaced by their SRC forms in place (the model is consumed).
 * Dynamic LayerDrop (Fig. 1b): ScaleOT's scores and plan, the harmonized blocks dropped.
 */
export function buildEmulator(model: CausalLM, importance: ImportanceInput, settings: EmulatorSettings, opts: { dropHarmonized?: boolean; log?: (s: string) => void } = {}): Emulator {
  const spec = model.spec;
  const n = model.blocks.length;
  if (importance.scores.length !== n) throw new Error(`importance: ${importance.scores.length} scores for a model of ${n} blocks`);
  const plan: LayerPlan = planEmulator(importance.scores, { numAdapters: settings.numAdapters, alpha: settings.alpha, numGroups: settings.numGroups });
  const fullSrc = settings.noSrc || settings.beta === 0;
  const fingerprint = modelFingerprint(model);
  const { all, trunk, ofRole } = splitTensors(model);
  const dropHarmonized = !!opts.dropHarmonized;
  const harmonizers = dropHarmonized ? [] : plan.harmonized.flatMap((i) => moduleTensors(importance.bank.harmonizer.at(i), (name) => `harmonizer.${i}.${name}`));
  const src: EmulatorManifest['src'] = [];
  const compressed = plan.compressed.flatMap((i) => {
    const block = model.blocks.at(i);
    if (!fullSrc) {
      opts.log?.(`SRC on block ${i} (β = ${settings.beta}, ${settings.srcTarget})`);
      src.push({ block: i, reports: applySrc(block, spec, settings.beta, settings.srcTarget) });
    }
    return moduleTensors(block, (name) => spec.hfName(blockPrefix(spec, i) + name));
  });
  const parts = { trunk, adapters: ofRole(plan.roles, 'adapter'), harmonizers, compressed };
  const list = (xs: number[]) => xs.join(', ') || '(none)';
  const description: EmulatorDescription = {
    format: EMULATOR_FORMAT,
    kind: dropHarmonized ? 'dynamic-drop' : 'scaleot',
    source: { fingerprint, architecture: spec.architecture, blocks: n },
    settings,
    plan: {
      roles: plan.roles.map((r) => (dropHarmonized && r === 'harmonized' ? 'dropped' : r)), scores: plan.scores, groups: plan.groups, adapters: plan.adapters,
      harmonized: dropHarmonized ? [] : plan.harmonized, compressed: plan.compressed,
      ...(dropHarmonized ? { dropped: plan.harmonized } : {}),
    },
    harmonizer_rank: importance.rank,
    src,
    compressed_blocks_in_full: fullSrc,
    statements: [
      dropHarmonized
        ? `blocks ${list(plan.harmonized)} are dropped (Dynamic LayerDrop): the package holds nothing of them`
        : `blocks ${list(plan.harmonized)} are harmonized: the package holds only their harmonizers`,
      fullSrc
        ? `blocks ${list(plan.compressed)} ship in full (${settings.noSrc ? 'ScaleOT without SRC' : 'β = 0'})`
        : `blocks ${list(plan.compressed)} hold their ${settings.srcTarget} weights only at rank r = max(1, round((1 - β) min(rows, cols))), β = ${settings.beta}`,
      `blocks ${plan.adapters.join(', ')} are the adapters, in full`,
    ],
    parameters: parameterCounts(all, parts),
  };
  return { description, config: model.hfConfig, parts };
}

/**
 * A baseline's emulator (OT uniform LayerDrop, CRaSh) in the same form: adapters and kept
 * blocks in full, dropped blocks absent, shared slots pointing at a kept block. With
 * keptTensors (OT + distillation) the kept blocks' trained tensors replace the model's.
 */
export function buildBaselineEmulator(model: CausalLM, kind: 'uniform-drop' | 'crash', plan: BaselinePlan, opts: { keptTensors?: TensorToWrite[]; note?: string } = {}): Emulator {
  const n = model.blocks.length;
  const roles: Role[] = new Array<Role>(n).fill('dropped');
  for (const i of plan.adapters) roles[i] = 'adapter';
  for (const i of plan.kept) roles[i] = 'kept';
  for (const i of Object.keys(plan.shared)) roles[Number(i)] = 'shared';
  const { all, trunk, ofRole } = splitTensors(model);
  const original = ofRole(roles, 'kept');
  const kept = opts.keptTensors ?? original;
  if (opts.keptTensors) {
    const expected = original.map((t) => `${t.name}:${t.shape}`).sort().join();
    if (kept.map((t) => `${t.name}:${t.shape}`).sort().join() !== expected) throw new Error(`${kind} emulator: the replacement kept-block tensors do not match the kept blocks' names and shapes`);
  }
  // The kept blocks go in `compressed`, where the loader looks for non-adapter blocks.
  const parts = { trunk, adapters: ofRole(roles, 'adapter'), harmonizers: [], compressed: kept };
  const description: EmulatorDescription = {
    format: EMULATOR_FORMAT,
    kind,
    source: { fingerprint: modelFingerprint(model), architecture: model.spec.architecture, blocks: n },
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
    parameters: parameterCounts(all, parts),
  };
  return { description, config: model.hfConfig, parts };
}

/** A removed block: the hidden states pass through unchanged (LayerDrop). */
export class DroppedBlock extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Fills block i of the emulator model according to its role. */
function fillBlock(model: CausalLM, emu: Emulator, i: number, sources: Record<PackagePart, TensorSource>): void {
  const { description: d } = emu;
  const spec = model.spec;
  const blocks = model.blocks as ModuleList<Block>;
  const hfName = (name: string) => spec.hfName(blockPrefix(spec, i) + name);
  const role = d.plan.roles[i];
  if (role === 'adapter') readModuleTensors(blocks.at(i), sources.adapters, hfName);
  else if (role === 'dropped') blocks.set(i, new DroppedBlock());
  else if (role === 'kept') readModuleTensors(blocks.at(i), sources.compressed, hfName);
  else if (role === 'harmonized') {
    const h = new Harmonizer(spec.hiddenSize, d.harmonizer_rank);
    readModuleTensors(h, sources.harmonizers, (name) => `harmonizer.${i}.${name}`);
    blocks.set(i, h);
  } else if (role === 'src') {
    const block = blocks.at(i);
    for (const r of d.src.find((s) => s.block === i)?.reports ?? []) {
      if (r.stored === 'factors') setPath(block, r.path, new LowRankLinear(r.cols, r.rows, r.rank, sources.compressed.has(`${blockPrefix(spec, i)}${r.path}.bias`)));
    }
    readModuleTensors(block, sources.compressed, hfName);
  }
  // 'shared' slots are filled once their kept block is loaded (instantiateEmulator).
}

/** The data owner's model [A, E*] built from an emulator (adapters as shipped, all frozen). */
export function instantiateEmulator(emu: Emulator, label = 'emulator'): CausalLM {
  const { description: d } = emu;
  const model = emptyModel(emu.config, `${label}/config.json`);
  const n = model.blocks.length;
  if (n !== d.source.blocks) throw new Error(`${label}: config has ${n} blocks, the manifest ${d.source.blocks}`);
  const sources = Object.fromEntries(PACKAGE_PARTS.map((p) => [p, memoryTensors(`${label}/${p}.safetensors`, emu.parts[p])])) as Record<PackagePart, TensorSource>;
  const spec = model.spec;
  for (const [name, p] of model.namedParameters()) {
    if (blockIndexOf(spec, name) >= 0) continue;
    const key = spec.hfName(name);
    if (!sources.trunk.has(key)) throw new Error(`${sources.trunk.path}: missing tensor "${key}"`);
    p.data.set(sources.trunk.readFloat32(key));
  }
  for (let i = 0; i < n; i++) fillBlock(model, emu, i, sources);
  const blocks = model.blocks as ModuleList<Block>;
  for (const [slot, keptIdx] of Object.entries(d.plan.shared_with ?? {})) {
    if (d.plan.roles[keptIdx] !== 'kept') throw new Error(`${label}/manifest.json: slot ${slot} shares block ${keptIdx}, which is not kept`);
    blocks.set(Number(slot), blocks.at(keptIdx)); // the same module: shared weights
  }
  return model;
}
