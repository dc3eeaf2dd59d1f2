// scaleot: the library API. Everything the CLI does is a function call here, so an
// experiment runner calls functions, not subprocesses.
export * as tensor from './tensor/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export { svd, lowRank } from './linalg/svd.js';
export type { SVDResult } from './linalg/svd.js';
export { Rng } from './util/rng.js';

// models and checkpoints
export { GPT2LMHeadModel } from './models/gpt2.js';
export type { GPT2Config } from './models/gpt2.js';
export { OPTForCausalLM } from './models/opt.js';
export { LlamaForCausalLM } from './models/llama.js';
export type { CausalLM, Block, Architecture } from './models/causal_lm.js';
export { KVCache } from './models/causal_lm.js';
export { loadModel, emptyModel, architectureOf } from './models/load.js';
export { Checkpoint, saveCheckpoint } from './io/checkpoint.js';
export { SafetensorsFile, writeSafetensors } from './io/safetensors.js';
export { TextTokenizer } from './tokenizer/tokenizer.js';
export { trainByteLevelBpe } from './tokenizer/train_bpe.js';
export { generate } from './inference/generate.js';

// data and evaluation
export { buildData, ensureData, defaultDataDir, MC_TASKS, LM_TASKS } from './data/build.js';
export { loadTask, loadTaskFile, BUILTIN_TASKS } from './data/tasks.js';
export type { Task } from './data/tasks.js';
export { documentPerplexity, corpusPerplexity, rollingWindows } from './eval/perplexity.js';
export { evaluateMultipleChoice, choiceLogLikelihoods } from './eval/multiple_choice.js';

// training
export { pretrain, readPretrainConfig } from './train/pretrain.js';
export { trainLoop } from './train/loop.js';
export { finetune, scoreTask, PAPER_LR_GRID } from './train/finetune.js';

// offsite tuning (ScaleOT)
export { estimateImportance, loadImportance, defaultImportanceConfig, sampleCandidate, scoreUpdate } from './offsite/scaleot/importance.js';
export { Harmonizer } from './offsite/scaleot/harmonizer.js';
export { applySrc, compressLinear, srcRank, LowRankLinear } from './offsite/scaleot/src.js';
export { planEmulator, makeGroups } from './offsite/scaleot/plan.js';
export { buildEmulator, buildBaselineEmulator, instantiateEmulator, DEFAULT_EMULATOR } from './offsite/emulator.js';
export { createEmulator, createBaselineEmulator, loadEmulator, readEmulatorPackage, writeEmulatorPackage } from './offsite/emulator_package.js';
export { registerMethod, getMethod, methodNames } from './offsite/methods.js';
export type { OffsiteMethod, BuildContext } from './offsite/methods.js';
export { offsiteTune, prepareAdapters } from './offsite/tune.js';
export { plugIn, validateAdapter, attachAdapter } from './offsite/plugin.js';
export { modelFingerprint } from './offsite/fingerprint.js';
export { LoraLinear } from './peft/lora.js';
export { BottleneckAdapter } from './peft/bottleneck.js';
export { registerTuner, getTuner, tunerNames } from './peft/registry.js';
export type { Tuner } from './peft/tuner.js';
export { loraParameterCount, bottleneckParameterCount } from './peft/count.js';

// baselines (same package format)
export { uniformDropPlan, otAdapters } from './offsite/baselines/uniform_drop.js';
export { crashPlan, crashPlanFromCka, linearCka } from './offsite/baselines/crash.js';
export { distillKeptBlocks, distillEmulator } from './offsite/baselines/distill.js';

// experiments and reports
export { readExperimentConfig, parseExperimentConfig } from './experiment/config.js';
export type { ExperimentConfig } from './experiment/config.js';
export { runExperiment } from './experiment/runner.js';
export type { ExperimentResults } from './experiment/results.js';
export { writeExperimentOutputs } from './experiment/results.js';
export { renderReport } from './experiment/report_html.js';
export { buildTable1, table1Text } from './experiment/tables.js';
export { checkConditions } from './experiment/conditions.js';
export { checkReportInBrowser, findChromium } from './experiment/browser_check.js';
