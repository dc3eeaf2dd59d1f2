// Runs the compiled tests (dist/test/**/*.test.js) with Node's built-in test runner:
// first every file with the kernels this CPU selects by default, then the float32
// correctness suites again with each slower kernel set forced (SCALEOT_KERNELS), as the
// tensor-core issue requires. SCALEOT_TEST_FILTER=substring narrows the files;
// SCALEOT_TEST_MATRIX=0 skips the forced-kernel passes.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filter = process.env.SCALEOT_TEST_FILTER ?? '';
const files = walk('dist/test').filter((f) => f.includes(filter)).sort();
if (files.length === 0) {
  console.error(`run-tests: no test files found under dist/test matching "${filter}"`);
  process.exit(1);
}

// The suites whose float32 results depend on the kernel set.
const KERNEL_SENSITIVE = ['bf16_gemm', 'ops_golden', 'hf_models', 'broadcast', 'attention_fused', 'gpt2_train', 'determinism', 'autograd', 'optim', 'modules'];

function available() {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e',
    "import('./dist/src/tensor/native.js').then(m => console.log(m.native.cpuFeatures()))"], { encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    console.error('run-tests: cannot load the native addon');
    process.exit(1);
  }
  return r.stdout.trim().split(' ');
}

let passed = 0, failed = 0, status = 0;
function run(label, env, list) {
  console.log(`\n# ===== ${label}: ${list.length} files`);
  // --expose-gc: the memory tests collect garbage before reading RSS. A fixed-size young
  // generation (--min-semi-space-size=16, V8's maximum) keeps V8 from growing its own
  // reservation during the 1,000-step RSS test, which is heap policy, not a leak.
  const r = spawnSync(process.execPath, ['--expose-gc', '--min-semi-space-size=16', '--test', '--test-concurrency=1', ...list], {
    // Output arrays start as NaN (src/tensor/tensor.ts allocateOutput), so a kernel that reads
    // its output before writing it fails here. Training loops default to bf16 on CPUs with
    // AVX512-BF16: the suites pin float32 (golden values, finite differences) unless told;
    // the bf16 tests choose bf16 themselves.
    env: { ...process.env, SCALEOT_POISON_OUTPUTS: '1', SCALEOT_PRECISION: process.env.SCALEOT_PRECISION || 'fp32', ...env },
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  const p = /^# pass (\d+)/m.exec(r.stdout), f = /^# fail (\d+)/m.exec(r.stdout);
  passed += p ? Number(p[1]) : 0;
  failed += f ? Number(f[1]) : 0;
  if (r.status !== 0) status = r.status ?? 1;
}

const features = available();
run(`kernels auto (${features[0]})`, {}, files);
if (process.env.SCALEOT_TEST_MATRIX !== '0') {
  const forced = [...features.slice(1), 'reference'];
  const subset = files.filter((f) => KERNEL_SENSITIVE.some((k) => f.includes(k)));
  for (const mode of forced) if (subset.length) run(`kernels ${mode} (forced)`, { SCALEOT_KERNELS: mode }, subset);
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : status);
