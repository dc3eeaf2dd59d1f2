// Runs every compiled test file (dist/test/**/*.test.js) with Node's built-in test runner.
// Node 20's `--test` does not expand globs itself, so the files are listed here.
// SCALEOT_TEST_FILTER=substring limits the run to matching paths.
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
const r = spawnSync(process.execPath, ['--expose-gc', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
