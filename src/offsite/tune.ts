// Offsite tuning on the data owner's side (METHOD.md Stage 3): only the adapter blocks of
// the emulator [A, E*] train, with all their weights ('full'), LoRA r = 4 on all their
// linear weights ('lora'), or two bottleneck adapters of width 64 per block ('adapter');
// AdamW over the learning-rate grid, the best chosen on validation (Emu FT), resumable.
// The adapter package returned to the model owner holds only A' or the PEFT deltas and a
// manifest binding it to its emulator and source model.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Block, CausalLM, Architecture } from '../models/causal_lm.js';
import { hfNameOf, blockPrefix } from '../models/load.js';
import { Linear } from '../nn/layers.js';
import type { Parameter } from '../nn/module.js';
import { writeSafetensors, TensorToWrite } from '../io/safetensors.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { Rng } from '../util/rng.js';
import { LoraLinear, DEFAULT_LORA, LoraConfig } from '../peft/lora.js';
import { BottleneckAdapter, WithAdapter } from '../peft/bottleneck.js';
import { hiddenSize } from '../peft/count.js';
import type { Task } from '../data/tasks.js';
import { trainingExamples, Example, trainRun, scoreTask, cachedJson, searchLearningRates, Score } from '../train/finetune.js';
import { loadEmulator, sha256File, EmulatorManifest } from './emulator.js';
import { getPath, linearPaths, setPath, ATTENTION_LINEARS, FFN_LINEARS } from './linear_targets.js';

export type TuneMethod = 'full' | 'lora' | 'adapter';
/** Width of the bottleneck adapters (the paper's Table 3). */
export const ADAPTER_WIDTH = 64;
export const ADAPTER_FORMAT = 'scaleot-adapter/1';

/** The attention and FFN output projections, after which bottleneck adapters sit. */
export function adapterSites(arch: Architecture): string[] {
  const attn = ATTENTION_LINEARS[arch], ffn = FFN_LINEARS[arch];
  return [attn[attn.length - 1], ffn[ffn.length - 1]];
}

/**
 * Makes the adapter blocks trainable by `method` (everything else frozen) and returns the
 * trainable parameters with the names they are shipped under.
 */
export function prepareAdapters(model: CausalLM, adapters: number[], method: TuneMethod, lora: LoraConfig = DEFAULT_LORA, seed = 0): { params: Parameter[]; named: () => [string, Parameter][] } {
  const arch = model.architecture;
  model.requiresGrad(false);
  const rng = new Rng(seed);
  const named: [string, Parameter][] = [];
  for (const i of adapters) {
    const block = model.blocks.at(i) as Block;
    const prefix = blockPrefix(arch, i);
    if (method === 'full') {
      block.requiresGrad(true);
      for (const [n, p] of block.namedParameters()) named.push([hfNameOf(prefix + n), p]);
    } else if (method === 'lora') {
      for (const path of linearPaths(arch, 'all')) {
        const lin = getPath(block, path);
        if (!(lin instanceof Linear)) throw new Error(`LoRA: ${prefix}${path} is not a linear layer`);
        const l = new LoraLinear(lin, lora, rng);
        setPath(block, path, l);
        named.push([`${prefix}${path}.lora_A.weight`, l.lora_A.weight], [`${prefix}${path}.lora_B.weight`, l.lora_B.weight]);
      }
    } else {
      const hidden = hiddenSize(arch, model.hfConfig);
      for (const path of adapterSites(arch)) {
        const lin = getPath(block, path);
        if (!(lin instanceof Linear)) throw new Error(`adapter: ${prefix}${path} is not a linear layer`);
        const w = new WithAdapter(lin, new BottleneckAdapter(hidden, ADAPTER_WIDTH, rng));
        setPath(block, path, w);
        for (const [n, p] of w.adapter.namedParameters()) named.push([`${prefix}${path}.adapter.${n}`, p]);
      }
    }
  }
  const params = named.map(([, p]) => p);
  for (const p of params) p.requiresGrad = true;
  return { params, named: () => named };
}

/**
 * The names and shapes of the parameters prepareAdapters would create on these blocks,
 * read off the model without changing it (what the plug-in expects to receive).
 */
export function adapterParameterShapes(model: CausalLM, adapters: number[], method: TuneMethod, lora: LoraConfig = DEFAULT_LORA): Map<string, readonly number[]> {
  const arch = model.architecture;
  const out = new Map<string, readonly number[]>();
  const template = method === 'adapter' ? new BottleneckAdapter(hiddenSize(arch, model.hfConfig), ADAPTER_WIDTH) : null;
  for (const i of adapters) {
    const block = model.blocks.at(i) as Block;
    const prefix = blockPrefix(arch, i);
    if (method === 'full') {
      for (const [n, p] of block.namedParameters()) out.set(hfNameOf(prefix + n), p.shape);
    } else if (method === 'lora') {
      for (const path of linearPaths(arch, 'all')) {
        const lin = getPath(block, path);
        if (!(lin instanceof Linear)) throw new Error(`LoRA: ${prefix}${path} is not a linear layer`);
        out.set(`${prefix}${path}.lora_A.weight`, [lora.r, lin.inFeatures]);
        out.set(`${prefix}${path}.lora_B.weight`, [lin.outFeatures, lora.r]);
      }
    } else {
      for (const path of adapterSites(arch)) for (const [n, p] of template!.namedParameters()) out.set(`${prefix}${path}.adapter.${n}`, p.shape);
    }
  }
  return out;
}

export interface AdapterManifest {
  format: string;
  method: TuneMethod;
  source_fingerprint: string;
  emulator: { manifest_sha256: string; settings: EmulatorManifest['settings'] };
  architecture: string;
  adapter_blocks: number[];
  lora?: LoraConfig;
  lr: number;
  tensors: Record<string, number[]>; // name -> shape
  files: Record<string, string>;
}

export interface TuneOptions {
  method: TuneMethod;
  lrs: number[];
  steps: number;
  batchSize: number;
  evalLimit?: number;
  /** Training window for perplexity tasks, in tokens; the model's context by default. */
  seqLen?: number;
  /** The training split already encoded (trainingExamples), e.g. shared by many runs. */
  examples?: Example[];
  checkpointEvery?: number;
  seed?: number;
  lora?: LoraConfig;
  log?: (s: string) => void;
}

export interface TuneResult {
  method: TuneMethod;
  runs: { lr: number; validation: Score }[];
  bestLr: number;
  emuZeroShot: { validation: Score; test: Score };
  emuFinetuned: { validation: Score; test: Score };
  adapterDir: string;
}

/** Writes the adapter package for the tuned parameters (temporary dir, then rename). */
export function writeAdapterPackage(outDir: string, pkg: string, emu: EmulatorManifest, method: TuneMethod, lr: number, named: [string, Parameter][], lora: LoraConfig): AdapterManifest {
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const tensors: TensorToWrite[] = named.map(([name, p]) => ({ name, dtype: 'F32', shape: p.shape, data: p.data as Float32Array }));
  writeSafetensors(join(tmp, 'adapter.safetensors'), tensors, { format: 'pt' });
  const files: Record<string, string> = { 'adapter.safetensors': sha256File(join(tmp, 'adapter.safetensors')) };
  if (method === 'lora') {
    // peft's layout: the same deltas under base_model.model.<name>, and adapter_config.json
    writeSafetensors(join(tmp, 'adapter_model.safetensors'), tensors.map((t) => ({ ...t, name: `base_model.model.${t.name}` })), { format: 'pt' });
    const leafs = [...new Set(linearPaths(emu.source.architecture as Architecture, 'all').map((p) => p.split('.').pop()!))];
    writeFileSync(join(tmp, 'adapter_config.json'), JSON.stringify({
      peft_type: 'LORA', task_type: 'CAUSAL_LM', r: lora.r, lora_alpha: lora.alpha, lora_dropout: 0, bias: 'none',
      target_modules: leafs, layers_to_transform: emu.plan.adapters, fan_in_fan_out: emu.source.architecture === 'gpt2',
      base_model_name_or_path: null, inference_mode: true,
    }, null, 2) + '\n');
    files['adapter_model.safetensors'] = sha256File(join(tmp, 'adapter_model.safetensors'));
    files['adapter_config.json'] = sha256File(join(tmp, 'adapter_config.json'));
  }
  const manifest: AdapterManifest = {
    format: ADAPTER_FORMAT,
    method,
    source_fingerprint: emu.source.fingerprint,
    emulator: { manifest_sha256: sha256File(join(pkg, 'manifest.json')), settings: emu.settings },
    architecture: emu.source.architecture,
    adapter_blocks: emu.plan.adapters,
    ...(method === 'lora' ? { lora } : {}),
    lr,
    tensors: Object.fromEntries(tensors.map((t) => [t.name, [...t.shape]])),
    files,
  };
  writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
  return manifest;
}

export function offsiteTune(pkg: string, tasks: { train: Task; validation: Task; test: Task }, outDir: string, opts: TuneOptions): TuneResult {
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const lora = opts.lora ?? DEFAULT_LORA;
  mkdirSync(outDir, { recursive: true });
  const tok = TextTokenizer.fromDir(pkg);
  const { model: emu0, manifest } = loadEmulator(pkg);
  const examples = opts.examples ?? trainingExamples(tasks.train, tok, Math.min(opts.seqLen ?? emu0.maxContext, emu0.maxContext));
  const emuZeroShot: TuneResult['emuZeroShot'] = cachedJson(join(outDir, 'emu_zero_shot.json'), () => ({
    validation: scoreTask(emu0, tok, tasks.validation, opts.evalLimit),
    test: scoreTask(emu0, tok, tasks.test, opts.evalLimit),
  }));
  const { runs, best } = searchLearningRates(
    opts.lrs,
    (lr) => join(outDir, `${opts.method}-lr-${lr}`),
    `${opts.method} `,
    (lr, runDir) => {
      const { model } = loadEmulator(pkg);
      const { params, named } = prepareAdapters(model, manifest.plan.adapters, opts.method, lora, opts.seed ?? 0);
      trainRun(model, params, examples, lr, runDir, opts, log);
      const validation = scoreTask(model, tok, tasks.validation, opts.evalLimit);
      log(`${opts.method} lr ${lr}: Emu FT validation ${validation.metric} ${validation.value.toFixed(4)}`);
      return { validation, trained: { model, named } };
    },
    (lr, { model, named }) => {
      writeAdapterPackage(join(outDir, 'adapter'), pkg, manifest, opts.method, lr, named(), lora);
      writeFileSync(join(outDir, 'emu_ft_test.json'), JSON.stringify(scoreTask(model, tok, tasks.test, opts.evalLimit), null, 2));
    },
    log,
  );
  const emuFinetuned = { validation: best.validation, test: JSON.parse(readFileSync(join(outDir, 'emu_ft_test.json'), 'utf8')) as Score };
  const result: TuneResult = { method: opts.method, runs, bestLr: best.lr, emuZeroShot, emuFinetuned, adapterDir: join(outDir, 'adapter') };
  writeFileSync(join(outDir, 'results.json'), JSON.stringify(result, null, 2));
  return result;
}

