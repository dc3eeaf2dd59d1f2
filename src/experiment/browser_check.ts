// Opens report.html in headless Chromium through the DevTools protocol over a pipe
// (--remote-debugging-pipe: NUL-separated JSON on file descriptors 3 and 4, so no
// WebSocket client is needed) and reports what a reader would see: every table with its
// rows, every chart with its rendered size and marks, console errors, uncaught
// exceptions, and every network request that is not the file itself.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Readable, Writable } from 'node:stream';

export interface PageCheck {
  title: string;
  tables: { className: string; rows: number; width: number; height: number }[];
  charts: { id: string; width: number; height: number; marks: number }[];
  /** Every SVG in the page (charts and layout strips) with its size. */
  svgs: { width: number; height: number }[];
  consoleErrors: string[];
  exceptions: string[];
  /** URLs requested other than the report itself. */
  requests: string[];
}

export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function findChromium(): string | null {
  if (process.env.SCALEOT_CHROMIUM) return existsSync(process.env.SCALEOT_CHROMIUM) ? process.env.SCALEOT_CHROMIUM : null;
  return CHROMIUM_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

const PROBE = `(() => {
  const box = (e) => { const r = e.getBoundingClientRect(); return { width: Math.round(r.width), height: Math.round(r.height) }; };
  return JSON.stringify({
    title: document.title,
    tables: [...document.querySelectorAll('table')].map((t) => ({ className: t.className, rows: t.querySelectorAll('tbody tr').length, ...box(t) })),
    charts: [...document.querySelectorAll('figure.chart-figure')].map((f) => {
      const s = f.querySelector('svg');
      return { id: f.dataset.chart, ...(s ? box(s) : { width: 0, height: 0 }), marks: s ? s.querySelectorAll('rect,path,circle,line').length : 0 };
    }),
    svgs: [...document.querySelectorAll('svg')].map(box),
  });
})()`;

/**
 * Loads `htmlPath` in headless Chromium and returns what rendered. This function reads
 * better whole: one DevTools session whose message handler, event listeners and cleanup
 * share the child process and the pending-request table.
 */
export async function checkReportInBrowser(htmlPath: string, chromium: string, timeoutMs = 60_000): Promise<PageCheck> {
  if (!existsSync(htmlPath)) throw new Error(`${htmlPath}: no such file`);
  const url = pathToFileURL(resolve(htmlPath)).href;
  const profile = mkdtempSync(join(tmpdir(), 'scaleot-chromium-'));
  const child = spawn(chromium, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-default-apps', '--disable-extensions', '--disable-sync', '--no-first-run',
    '--no-default-browser-check', '--metrics-recording-only', '--mute-audio', `--user-data-dir=${profile}`,
    '--remote-debugging-pipe', 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d.toString()));
  const toBrowser = child.stdio[3] as Writable, fromBrowser = child.stdio[4] as Readable;
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  const listeners: ((m: Record<string, unknown>) => void)[] = [];
  let buf = '';
  fromBrowser.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let k;
    while ((k = buf.indexOf('\0')) >= 0) {
      const msg = JSON.parse(buf.slice(0, k)) as Record<string, unknown>;
      buf = buf.slice(k + 1);
      if (typeof msg.id === 'number' && pending.has(msg.id)) {
        const p = pending.get(msg.id)!;
        pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`DevTools: ${JSON.stringify(msg.error)}`));
        else p.resolve((msg.result ?? {}) as Record<string, unknown>);
      } else listeners.forEach((l) => l(msg));
    }
  });
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string) => new Promise<Record<string, unknown>>((res, rej) => {
    const id = nextId++;
    pending.set(id, { resolve: res, reject: rej });
    toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
  });
  const exited = new Promise<never>((_, rej) => child.on('exit', (code) => rej(new Error(`chromium exited (code ${code}) before the check finished: ${stderr.slice(-2000)}`))));
  const timer = new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`chromium: no result within ${timeoutMs} ms: ${stderr.slice(-2000)}`)), timeoutMs).unref());

  const consoleErrors: string[] = [], exceptions: string[] = [], requests: string[] = [];
  const work = async (): Promise<PageCheck> => {
    const { targetInfos } = (await send('Target.getTargets')) as { targetInfos: { targetId: string; type: string }[] };
    const page = targetInfos.find((t) => t.type === 'page');
    const targetId = page ? page.targetId : ((await send('Target.createTarget', { url: 'about:blank' })) as { targetId: string }).targetId;
    const { sessionId } = (await send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    let loaded: () => void = () => {};
    const loadedP = new Promise<void>((r) => (loaded = r));
    listeners.push((m) => {
      if (m.sessionId !== sessionId) return;
      const p = m.params as Record<string, any>;
      if (m.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) consoleErrors.push(JSON.stringify(p.args?.map((a: any) => a.value ?? a.description)));
      if (m.method === 'Log.entryAdded' && p.entry?.level === 'error') consoleErrors.push(`${p.entry.source}: ${p.entry.text} ${p.entry.url ?? ''}`);
      if (m.method === 'Runtime.exceptionThrown') exceptions.push(p.exceptionDetails?.exception?.description ?? p.exceptionDetails?.text ?? 'exception');
      // data: URLs never leave the page; anything else (http, file, ...) other than the report counts.
      if (m.method === 'Network.requestWillBeSent' && p.request?.url !== url && !String(p.request?.url).startsWith('data:')) requests.push(p.request?.url);
      if (m.method === 'Page.loadEventFired') loaded();
    });
    for (const d of ['Runtime.enable', 'Log.enable', 'Network.enable', 'Page.enable']) await send(d, {}, sessionId);
    await send('Page.navigate', { url }, sessionId);
    await loadedP;
    // Let layout settle and any late request or error arrive.
    await new Promise((r) => setTimeout(r, 300));
    const ev = (await send('Runtime.evaluate', { expression: PROBE, returnByValue: true }, sessionId)) as { result: { value: string } };
    const probe = JSON.parse(ev.result.value) as Pick<PageCheck, 'title' | 'tables' | 'charts' | 'svgs'>;
    await send('Browser.close').catch(() => {});
    return { ...probe, consoleErrors, exceptions, requests };
  };
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  exited.catch(() => {}); // after a normal close the exit is expected
  try {
    return await Promise.race([work(), exited, timer]);
  } finally {
    // Browser.close was sent on success; give it a moment, then make sure it is gone
    // before removing its profile (its processes may still be writing there).
    const wait = (ms: number) => Promise.race([gone, new Promise<void>((r) => setTimeout(r, ms).unref())]);
    await wait(5000);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await wait(5000);
    }
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch {
      // a leftover temporary profile is not worth failing the check for
    }
  }
}

/** What is wrong with a rendered report: errors, requests, empty tables or charts ([] when fine). */
export function reportProblems(page: PageCheck): string[] {
  const problems = [
    ...page.consoleErrors.map((e) => `console error: ${e}`),
    ...page.exceptions.map((e) => `exception: ${e}`),
    ...page.requests.map((u) => `network request: ${u}`),
    ...page.tables.filter((t) => t.rows === 0 || t.width === 0).map((t) => `table "${t.className}" is empty or not rendered`),
    ...page.charts.filter((c) => c.width === 0 || c.height === 0 || c.marks < 2).map((c) => `chart "${c.id}" is empty or not rendered`),
  ];
  if (page.tables.length === 0 || page.charts.length === 0) problems.push('no table or no chart rendered');
  return problems;
}
