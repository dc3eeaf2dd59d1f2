// The command line on a real (tiny, random) GPT-2 checkpoint with GPT-2's tokenizer files:
// eval prints the metrics as JSON on its last stdout line, generate and inspect run, and
// errors are one line on stderr with a non-zero exit and no stack trace.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCheckpointWithGpt2Tokenizer } from '../helpers.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { COMMANDS } from '../../src/cli/commands.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', '..', 'src', 'cli', 'main.js');
let dir = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scaleot-cli-'));
  const model = new GPT2LMHeadModel({ vocabSize: 50257, nPositions: 32, nEmbd: 8, nLayer: 2, nHead: 2 }, 7);
  writeCheckpointWithGpt2Tokenizer(join(dir, 'model'), model);
  writeFileSync(join(dir, 'doc.txt'), 'The quick brown fox jumps over the lazy dog. '.repeat(6) + 'Naïve café!\n');
});

after(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

test('eval --ppl --json prints every metric on the last stdout line', () => {
  const r = cli('eval', '--model', join(dir, 'model'), '--ppl', join(dir, 'doc.txt'), '--json');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const out = JSON.parse(lines[lines.length - 1]).tasks[join(dir, 'doc.txt')];
  for (const k of ['tokens', 'nll_sum', 'token_perplexity', 'word_perplexity', 'byte_perplexity', 'bits_per_byte']) {
    assert.equal(typeof out[k], 'number', `${k} missing`);
    assert.ok(Number.isFinite(out[k]));
  }
  assert.ok(out.windows >= 3, 'a document longer than the 32-token context spans several windows');
  // a random 50257-way model is near uniform: token perplexity within a factor 2 of V
  assert.ok(out.token_perplexity > 50257 / 2 && out.token_perplexity < 50257 * 2, `token perplexity ${out.token_perplexity}`);
});

test('eval and generate --weights bf16 hold the matrices in bf16 and score close to float32', () => {
  const score = (weights: string) => {
    const r = cli('eval', '--model', join(dir, 'model'), '--ppl', join(dir, 'doc.txt'), '--weights', weights, '--json');
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop()!).tasks[join(dir, 'doc.txt')].nll_sum as number;
  };
  const fp32 = score('fp32'), bf16 = score('bf16');
  assert.notEqual(bf16, fp32, 'bf16 products change the sums');
  assert.ok(Math.abs(bf16 - fp32) < 0.01 * Math.abs(fp32), `nll ${bf16} vs ${fp32}`);
  assert.equal(score('auto'), fp32, 'an F32 checkpoint stays float32 under auto');
  const g = cli('generate', '--model', join(dir, 'model'), '--prompt', 'Hello', '--max-new-tokens', '3', '--weights', 'bf16', '--json');
  assert.equal(g.status, 0, g.stderr);
  assert.equal(JSON.parse(g.stdout.trim().split('\n').pop()!).ids.length, 3);
});

test('generate and inspect run on the checkpoint', () => {
  const g = cli('generate', '--model', join(dir, 'model'), '--prompt', 'Hello', '--max-new-tokens', '5', '--json');
  assert.equal(g.status, 0, g.stderr);
  const out = JSON.parse(g.stdout.trim().split('\n').pop()!);
  assert.equal(out.ids.length, 5);
  assert.equal(typeof out.completion, 'string');
  const i = cli('inspect', join(dir, 'model'), '--json');
  assert.equal(i.status, 0, i.stderr);
  const rep = JSON.parse(i.stdout.trim());
  assert.equal(rep.architecture, 'gpt2');
  assert.equal(rep.blocks, 2);
  assert.equal(rep.context_length, 32);
  assert.equal(rep.tokenizer.source, 'vocab.json+merges.txt');
});

test('errors: one line on stderr, non-zero exit, no stack trace', () => {
  for (const args of [
    ['eval', '--model', join(dir, 'model'), '--ppl', join(dir, 'missing.txt'), '--json'],
    ['eval', '--model', join(dir, 'nope'), '--ppl', join(dir, 'doc.txt')],
    ['eval', '--ppl', join(dir, 'doc.txt')],
    ['eval', '--model', join(dir, 'model'), '--ppl', join(dir, 'doc.txt'), '--batch', 'x'],
    ['eval', '--model', join(dir, 'model'), '--ppl', join(dir, 'doc.txt'), '--weights', 'fp16'],
    ['frobnicate'],
    ['audit', '--model', join(dir, 'model'), '--emulator', join(dir, 'model'), '--out', join(dir, 'a'), '--task', 'nope'],
    ['audit', '--model', join(dir, 'model'), '--emulator', join(dir, 'model'), '--out', join(dir, 'a'), '--task', 'sotu', '--budgets', '0.1,x'],
    ['audit', '--model', join(dir, 'model'), '--emulator', join(dir, 'model'), '--out', join(dir, 'a'), '--task', 'sotu', '--init', 'random'],
    ['client', 'offers', '--server', 'http://192.0.2.1:1', '--key', 'sok_x'],
    ['client', 'offers', '--server', 'http://127.0.0.1:1'],
    ['serve', '--data', join(dir, 'svc'), '--tls-cert', join(dir, 'c.pem')],
  ]) {
    const r = cli(...args);
    assert.notEqual(r.status, 0, `${args.join(' ')} should fail`);
    assert.match(r.stderr, /^scaleot: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(r.stdout, '');
  }
});

test('usage errors exit 2 (the command line was wrong), other failures 1', () => {
  assert.equal(cli('frobnicate').status, 2);
  const p = cli('finetune', '--model', join(dir, 'model'), '--task', 'sotu', '--out', join(dir, 'ft'), '--precision', 'fp16');
  assert.equal(p.status, 2);
  assert.match(p.stderr, /--precision/);
  assert.equal(cli('audit', '--model', join(dir, 'model'), '--emulator', join(dir, 'model'), '--out', join(dir, 'a'), '--task', 'nope').status, 2);
  assert.equal(cli('eval', '--model', join(dir, 'nope'), '--ppl', join(dir, 'doc.txt')).status, 1);
});

test('every command answers --help with each of its flags described, and a mistyped flag gets a suggestion', () => {
  for (const [name, c] of Object.entries(COMMANDS)) {
    const r = cli(name, '--help');
    assert.equal(r.status, 0, `${name} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: scaleot ${name}`));
    for (const flag of [...(c.flags.values ?? []), ...(c.flags.repeated ?? []), ...(c.flags.switches ?? [])]) {
      const line = r.stdout.split('\n').find((l) => l.trimStart().startsWith(flag + ' '));
      assert.ok(line, `${name} --help lists ${flag}`);
      assert.ok((c.flags.help?.[flag] ?? '').length > 0, `${name} --help describes ${flag}`);
    }
  }
  const bad = cli('tune', '--emulatr', 'x');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /unknown flag --emulatr \(did you mean --emulator\?\)/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
});
