// Tokenizers from a checkpoint's own files, through @huggingface/tokenizers (a pure-JS
// implementation of the tokenizer.json format: byte-level BPE as in GPT-2 and LLaMA-3,
// SentencePiece-style BPE with byte fallback as in LLaMA-2). Checkpoints that ship only
// vocab.json + merges.txt (OPT, older GPT-2 dumps) are turned into the equivalent
// byte-level BPE tokenizer.json in memory. Special-token ids come from config.json, else
// from tokenizer_config.json / special_tokens_map.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { CheckpointError, readJsonObject } from '../io/checkpoint.js';

/** The files a checkpoint's tokenizer may consist of (copied along with derived models). */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt'];

export class TextTokenizer {
  private constructor(
    private readonly tok: Tokenizer,
    readonly source: 'tokenizer.json' | 'vocab.json+merges.txt',
    readonly bosTokenId: number | null,
    readonly eosTokenId: number | null,
  ) {}

  /** Loads the tokenizer that ships with a checkpoint directory. */
  static fromDir(dir: string): TextTokenizer {
    const tcPath = join(dir, 'tokenizer_config.json');
    const stPath = join(dir, 'special_tokens_map.json');
    const tokenizerConfig = existsSync(tcPath) ? readJsonObject(tcPath) : {};
    const specialMap = existsSync(stPath) ? readJsonObject(stPath) : {};
    const modelConfig = existsSync(join(dir, 'config.json')) ? readJsonObject(join(dir, 'config.json')) : {};
    let json: Record<string, unknown>;
    let source: TextTokenizer['source'];
    if (existsSync(join(dir, 'tokenizer.json'))) {
      json = readJsonObject(join(dir, 'tokenizer.json'));
      source = 'tokenizer.json';
    } else if (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'))) {
      json = byteLevelBpeJson(join(dir, 'vocab.json'), join(dir, 'merges.txt'));
      source = 'vocab.json+merges.txt';
    } else {
      throw new CheckpointError(`${dir}: no tokenizer.json, nor vocab.json + merges.txt`);
    }
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(json, tokenizerConfig);
    } catch (e) {
      throw new CheckpointError(`${dir}: cannot build the tokenizer from ${source} (${(e as Error).message})`);
    }
    const idOf = (key: 'bos' | 'eos'): number | null => {
      const fromConfig = modelConfig[`${key}_token_id`];
      if (typeof fromConfig === 'number') return fromConfig;
      for (const src of [tokenizerConfig, specialMap]) {
        const v = src[`${key}_token`];
        const content = typeof v === 'string' ? v : v && typeof v === 'object' ? (v as { content?: unknown }).content : undefined;
        if (typeof content === 'string') {
          const id = tok.token_to_id(content);
          if (id !== undefined) return id;
        }
      }
      return null;
    };
    return new TextTokenizer(tok, source, idOf('bos'), idOf('eos'));
  }

  /** Token ids of text, without special tokens. */
  encode(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: number[]): string {
    return this.tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /** The token the harness puts before a document: BOS, or EOS where there is no BOS. */
  get prefixTokenId(): number {
    const id = this.bosTokenId ?? this.eosTokenId;
    if (id === null) throw new Error('tokenizer has neither a BOS nor an EOS token');
    return id;
  }
}

/** GPT-2's byte-level BPE as a tokenizer.json object, from vocab.json and merges.txt. */
export function byteLevelBpeJson(vocabPath: string, mergesPath: string): Record<string, unknown> {
  const vocab = readJsonObject(vocabPath);
  for (const [k, v] of Object.entries(vocab)) {
    if (!Number.isInteger(v)) throw new CheckpointError(`${vocabPath}: id of ${JSON.stringify(k)} must be an integer`);
  }
  const merges: string[] = [];
  const lines = readFileSync(mergesPath, 'utf8').split('\n');
  lines.forEach((line, i) => {
    const l = line.replace(/\r$/, '');
    if (l === '' || (i === 0 && l.startsWith('#version'))) return;
    if (l.split(' ').length !== 2) throw new CheckpointError(`${mergesPath}:${i + 1}: a merge must be two tokens separated by one space`);
    merges.push(l);
  });
  // Tokens like <|endoftext|> or <s> are matched whole, never split by BPE.
  const special = Object.entries(vocab)
    .filter(([k]) => /^<\|.*\|>$|^<\/?s>$|^<pad>$|^<unk>$/.test(k))
    .map(([content, id]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  return byteLevelTokenizerJson(vocab as Record<string, number>, merges, special as AddedToken[]);
}

export interface AddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** A GPT-2-style byte-level BPE in tokenizer.json layout (as Hugging Face writes it). */
export function byteLevelTokenizerJson(vocab: Record<string, number>, merges: string[], addedTokens: AddedToken[]): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, vocab, merges,
    },
  };
}
