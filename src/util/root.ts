// The package's root directory (where package.json and binding.gyp are), found by walking
// up from the compiled file (dist/src/... or dist/test/...), so the native addon, the
// shipped model, the configs and the data cache are found wherever the command runs.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('scaleot: cannot locate the package root (binding.gyp) from ' + fileURLToPath(import.meta.url));
}
