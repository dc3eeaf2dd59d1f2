// Load on the service (not part of npm test): `node bench/service-load.mjs [--pullers 20]
// [--pushers 5] [--rounds 3]`. Starts `scaleot serve` on 127.0.0.1 with the shipped base
// model, builds one OT emulator, then runs 20 clients pulling it and 5 pushing an adapter
// (bounded loops), while a probe measures the latency of GET /v1/offers. Every transfer is
// verified by sha256 (the client does it); prints one JSON line with the figures.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceClient } from '../dist/src/service/client.js';
import { offsiteTune } from '../dist/src/offsite/tune.js';

const root = new URL('..', import.meta.url).pathname;
const CLI = join(root, 'dist', 'src', 'cli', 'main.js');
const arg = (name, dflt) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const pullers = arg('--pullers', 20), pushers = arg('--pushers', 5), rounds = arg('--rounds', 3);
const dir = mkdtempSync(join(tmpdir(), 'scaleot-load-'));
const admin = (...args) => JSON.parse(spawnSync(process.execPath, [CLI, 'admin', ...args, '--data', join(dir, 'svc'), '--json'], { encoding: 'utf8' }).stdout);

const server = spawn(process.execPath, [CLI, 'serve', '--data', join(dir, 'svc'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const url = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    setTimeout(() => reject(new Error('serve did not start')), 30_000);
  });
  admin('add-model', 'base', join(root, 'models', 'scaleot-base-16'));
  const { key } = admin('add-owner', 'load');
  const { offer } = admin('offer', '--model', 'base', '--owner', 'load', '--method', 'ot');
  const c = new ServiceClient({ server: url, key });
  for (let t0 = Date.now(); (await c.offers()).offers[0].state !== 'ready';) {
    if (Date.now() - t0 > 300_000) throw new Error('the emulator was not built in 5 minutes');
    await new Promise((r) => setTimeout(r, 500));
  }
  await c.pull(offer, join(dir, 'emu'));
  const items = Array.from({ length: 8 }, (_, i) => ({ context: `Item ${i} is`, choices: ['a', 'b'], label: i % 2 }));
  const task = { kind: 'mc', name: 'load', items };
  offsiteTune(join(dir, 'emu'), { train: task, validation: task, test: task }, join(dir, 'tuned'), { method: 'full', lrs: [1e-3], steps: 1, batchSize: 2, seqLen: 32, seed: 0 });

  // The probe runs in a process of its own: the clients' work in this process must not delay it.
  const probeProc = spawn(process.execPath, ['--input-type=module', '-e', `
    import { ServiceClient } from ${JSON.stringify(join(root, 'dist', 'src', 'service', 'client.js'))};
    const c = new ServiceClient({ server: ${JSON.stringify(url)}, key: ${JSON.stringify(key)} });
    const lat = [];
    let stop = false;
    process.on('message', () => { stop = true; });
    while (!stop) { const t = performance.now(); await c.offers(); lat.push(performance.now() - t); await new Promise((r) => setTimeout(r, 20)); }
    process.send(lat, () => process.exit(0));
  `], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const latenciesP = new Promise((resolve) => probeProc.once('message', resolve));
  const t0 = performance.now();
  let pulled = 0, pushed = 0, errors = 0;
  const work = [
    ...Array.from({ length: pullers }, (_, k) => (async () => {
      for (let r = 0; r < rounds; r++) {
        try {
          await new ServiceClient({ server: url, key }).pull(offer, join(dir, `pull-${k}-${r}`));
          pulled++;
        } catch (e) {
          errors++;
          console.error(`pull ${k}: ${e.message}`);
        }
      }
    })()),
    ...Array.from({ length: pushers }, (_, k) => (async () => {
      for (let r = 0; r < rounds; r++) {
        try {
          await new ServiceClient({ server: url, key }).push(offer, join(dir, 'tuned', 'adapter'), { examples: 8 });
          pushed++;
        } catch (e) {
          errors++;
          console.error(`push ${k}: ${e.message}`);
        }
      }
    })()),
  ];
  await Promise.all(work);
  const seconds = (performance.now() - t0) / 1000;
  probeProc.send('stop');
  const latencies = await latenciesP;
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  console.log(JSON.stringify({
    pullers, pushers, rounds, pulled, pushed, errors, seconds: Math.round(seconds * 10) / 10,
    offers_latency_ms: { n: latencies.length, p50: Math.round(q(0.5) * 10) / 10, p95: Math.round(q(0.95) * 10) / 10, max: Math.round(latencies[latencies.length - 1] * 10) / 10 },
  }));
  if (errors) process.exitCode = 1;
} finally {
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
