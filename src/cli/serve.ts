// scaleot serve --data DIR [--host 127.0.0.1] [--port 8470] [--tls-cert F --tls-key F]
//               [--upload-limit-mb N] [--importance-steps N] [--no-worker]
// scaleot worker --data DIR [--importance-steps N] [--once]
// The model owner's server: the HTTP API in this process, the job worker in a child process
// (restarted if it dies), so requests stay responsive while a job trains. Prints one line
// `listening on http(s)://HOST:PORT` when it accepts requests; SIGTERM stops accepting,
// lets in-flight requests finish (10 s at most), stops the worker and closes the database.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Service } from '../service/service.js';
import { ensureAdminToken } from '../service/auth.js';
import { serve } from '../service/server.js';
import { Worker } from '../service/worker.js';
import { FlagSpec, parseArgs, required, intFlag, UsageError } from './args.js';
import { dataDir, stderrLog } from './common.js';

export const SERVE_FLAGS: FlagSpec = {
  summary: "The model owner's offsite-tuning server: emulators out, adapters in, over an HTTP JSON API (TLS off loopback).",
  values: ['--data', '--host', '--port', '--tls-cert', '--tls-key', '--upload-limit-mb', '--importance-steps', '--data-dir'],
  switches: ['--no-worker'],
  help: {
    '--data': "the service's data directory: database, content store, stage cache (required)",
    '--host': 'the address to listen on (default 127.0.0.1; anything else needs TLS)',
    '--port': 'the port (default 8470; 0 picks a free one)',
    '--tls-cert': 'PEM certificate (with --tls-key: https)',
    '--tls-key': 'PEM private key',
    '--upload-limit-mb': 'the largest file a data owner may upload (default 512)',
    '--importance-steps': 'Dynamic LayerReplace steps for emulator jobs (default 400)',
    '--data-dir': 'where the built datasets live (D^T / D^V, tasks)',
    '--no-worker': 'serve only (run `scaleot worker` yourself)',
  },
};

export const WORKER_FLAGS: FlagSpec = {
  summary: "The service's job worker (serve starts one): emulator building, plug-in and evaluation, generation, aggregation.",
  values: ['--data', '--importance-steps', '--data-dir'],
  switches: ['--once'],
  help: {
    '--data': "the service's data directory (required)",
    '--importance-steps': 'Dynamic LayerReplace steps for emulator jobs (default 400)',
    '--data-dir': 'where the built datasets live',
    '--once': 'stop when the queue is empty',
  },
};

export function runServe(argv: string[]): void {
  const args = parseArgs('serve', argv, SERVE_FLAGS);
  const data = required(args, '--data', 'serve');
  const cert = args.values.get('--tls-cert'), key = args.values.get('--tls-key');
  if (!!cert !== !!key) throw new UsageError('serve: give both --tls-cert and --tls-key, or neither');
  const host = args.values.get('--host') ?? '127.0.0.1';
  const port = intFlag(args, '--port', 8470, 0);
  const service = new Service(data);
  const token = ensureAdminToken(service.db);
  if (token) process.stderr.write(`admin token (shown once; only a salted hash is stored): ${token}\n`);
  service.store.sweep();
  const log = stderrLog('serve: ');
  let worker: ChildProcess | null = null;
  let stopping = false;
  const startWorker = () => {
    const extra = [...(args.values.has('--importance-steps') ? ['--importance-steps', args.values.get('--importance-steps')!] : []), ...(args.values.has('--data-dir') ? ['--data-dir', args.values.get('--data-dir')!] : [])];
    // The IPC channel tells the worker when this process is gone (even by SIGKILL): it then exits.
    worker = spawn(process.execPath, [fileURLToPath(new URL('./main.js', import.meta.url)), 'worker', '--data', data, ...extra], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      log(`worker exited (${signal ?? code}); restarting in 2 s`);
      setTimeout(startWorker, 2000);
    });
  };
  serve(service, { dataDir: data, host, port, tls: cert && key ? { cert, key } : undefined, uploadLimit: intFlag(args, '--upload-limit-mb', 512) * 2 ** 20, log }).then((server) => {
    const addr = server.address();
    const p = typeof addr === 'object' && addr ? addr.port : port;
    console.log(`listening on ${cert ? 'https' : 'http'}://${host}:${p}`);
    if (!args.switches.has('--no-worker')) startWorker();
    process.on('SIGTERM', () => {
      stopping = true;
      worker?.kill('SIGTERM');
      server.close(() => {
        service.close();
        process.exit(0);
      });
      setTimeout(() => {
        service.close();
        process.exit(0);
      }, 10_000).unref();
    });
  }, (e: Error) => {
    process.stderr.write(`scaleot: serve: ${e.message}\n`);
    process.exitCode = 1;
    service.close();
  });
}

export function runWorker(argv: string[]): void {
  const args = parseArgs('worker', argv, WORKER_FLAGS);
  const service = new Service(required(args, '--data', 'worker'));
  // Started by `scaleot serve`: stop with it (the job in hand, if any, finishes first).
  if (process.send) process.on('disconnect', () => process.exit(0));
  const w = new Worker(service, {
    datasetsDir: dataDir(args), once: args.switches.has('--once'), log: stderrLog(),
    ...(args.values.has('--importance-steps') ? { importanceSteps: intFlag(args, '--importance-steps', 400) } : {}),
  });
  w.run().then((n) => {
    if (args.switches.has('--once')) process.stderr.write(`worker: ${n} job(s) run\n`);
    service.close();
  }, (e: Error) => {
    process.stderr.write(`scaleot: worker: ${e.message}\n`);
    process.exitCode = 1;
    service.close();
  });
}
