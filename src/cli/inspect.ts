// `scaleot inspect DIR [--json]`: what a checkpoint holds, without loading its weights.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Checkpoint } from '../io/checkpoint.js';
import { architectureOf } from '../models/load.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { FlagSpec, parseArgs } from './args.js';

export const INSPECT_FLAGS: FlagSpec = {
  summary: 'What a checkpoint holds (architecture, parameters, blocks, dtypes, tokenizer, context), without loading its weights.',
  positional: ['DIR'],
  switches: ['--json'],
  help: { '--json': 'print it as JSON' },
};

export function runInspect(argv: string[]): void {
  const args = parseArgs('inspect', argv, INSPECT_FLAGS);
  const dir = args.positional[0];
  const ckpt = Checkpoint.open(dir);
  try {
    const arch = architectureOf(ckpt.config, `${dir}/config.json`);
    const blockPattern = { gpt2: /^(transformer\.)?h\.(\d+)\./, opt: /^(model\.)?decoder\.layers\.(\d+)\./, llama: /^model\.layers\.(\d+)\./ }[arch];
    let total = 0, inBlocks = 0;
    const dtypes: Record<string, number> = {};
    const blocks = new Map<number, number>();
    for (const name of ckpt.names()) {
      const info = ckpt.info(name);
      if (/\.attn\.(masked_)?bias$|rotary_emb\.inv_freq$/.test(name)) continue; // buffers, not weights
      if (name === 'lm_head.weight' && arch !== 'llama') continue; // tied copy
      const n = info.shape.reduce((p, d) => p * d, 1);
      total += n;
      dtypes[info.dtype] = (dtypes[info.dtype] ?? 0) + n;
      const m = blockPattern.exec(name);
      if (m) {
        const idx = Number(m[m.length - 1]);
        blocks.set(idx, (blocks.get(idx) ?? 0) + n);
        inBlocks += n;
      }
    }
    const c = ckpt.config;
    const context = (c.n_positions ?? c.max_position_embeddings ?? null) as number | null;
    let tokenizer: Record<string, unknown> | string = 'none';
    if (existsSync(join(dir, 'tokenizer.json')) || existsSync(join(dir, 'vocab.json'))) {
      const tok = TextTokenizer.fromDir(dir);
      tokenizer = { source: tok.source, bos_token_id: tok.bosTokenId, eos_token_id: tok.eosTokenId };
    }
    const report = {
      dir,
      architecture: arch,
      parameters: total,
      block_parameters: inBlocks,
      trunk_parameters: total - inBlocks,
      blocks: blocks.size,
      parameters_per_block: blocks.size ? [...blocks.values()][0] : 0,
      dtypes,
      context_length: context,
      vocab_size: c.vocab_size ?? null,
      tokenizer,
    };
    if (args.switches.has('--json')) console.log(JSON.stringify(report));
    else {
      console.log(`${dir}: ${arch}, ${total.toLocaleString()} parameters (${blocks.size} blocks of ${report.parameters_per_block.toLocaleString()}, trunk ${report.trunk_parameters.toLocaleString()})`);
      console.log(`dtypes ${Object.entries(dtypes).map(([d, n]) => `${d} ${n.toLocaleString()}`).join(', ')}; context ${context}; vocabulary ${report.vocab_size}`);
      console.log(`tokenizer ${typeof tokenizer === 'string' ? tokenizer : JSON.stringify(tokenizer)}`);
    }
  } finally {
    ckpt.close();
  }
}
