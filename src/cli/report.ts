// `scaleot report RESULTS_JSON [--out FILE]` re-renders report.html from an experiment's
// results.json; `scaleot check-report REPORT` opens a report in headless Chromium and
// fails unless its tables and charts render with no console error and no network request.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkReportInBrowser, findChromium, reportProblems } from '../experiment/browser_check.js';
import { renderReport } from '../experiment/report_html.js';
import { buildTable1, table1Text } from '../experiment/tables.js';
import { RESULTS_FORMAT, ExperimentResults } from '../experiment/results.js';
import { writeFileAtomic } from '../io/atomic.js';
import { FlagSpec, parseArgs } from './args.js';

export const REPORT_FLAGS: FlagSpec = {
  summary: "Re-render report.html from an experiment's results.json (e.g. after an upgrade) and print Table 1.",
  positional: ['RESULTS_JSON'],
  values: ['--out'],
  help: { '--out': 'where to write the page (default report.html beside results.json)' },
};

export function runReport(argv: string[]): void {
  const args = parseArgs('report', argv, REPORT_FLAGS);
  const file = args.positional[0];
  if (!existsSync(file)) throw new Error(`report: ${file}: no such file`);
  const r = JSON.parse(readFileSync(file, 'utf8')) as ExperimentResults;
  if (r.format !== RESULTS_FORMAT) throw new Error(`report: ${file}: field "format" is ${JSON.stringify(r.format)}, expected "${RESULTS_FORMAT}"`);
  const out = args.values.get('--out') ?? join(dirname(file), 'report.html');
  writeFileAtomic(out, renderReport(r));
  console.log(table1Text(buildTable1(r)));
  console.log(`report: ${out}`);
}

export const CHECK_REPORT_FLAGS: FlagSpec = {
  summary: 'Open a report.html in headless Chromium: tables and charts rendered, no console error, no network request (exit 1 otherwise).',
  positional: ['REPORT'],
};

export function runCheckReport(argv: string[]): void {
  const args = parseArgs('check-report', argv, CHECK_REPORT_FLAGS);
  const chromium = findChromium();
  if (!chromium) throw new Error('check-report: no Chromium found (install Debian\'s "chromium" or set SCALEOT_CHROMIUM)');
  checkReportInBrowser(args.positional[0], chromium).then((page) => {
    const problems = reportProblems(page);
    console.log(`${args.positional[0]}: ${page.tables.length} tables (${page.tables.map((t) => `${t.className}: ${t.rows} rows`).join(', ')}), ${page.charts.length} charts (${page.charts.map((c) => c.id).join(', ')}); ${page.consoleErrors.length} console errors, ${page.requests.length} network requests`);
    if (problems.length) {
      process.stderr.write(`scaleot: check-report: ${problems.join('; ')}\n`);
      process.exitCode = 1;
    }
  }, (e: Error) => {
    process.stderr.write(`scaleot: check-report: ${e.message}\n`);
    process.exitCode = 1;
  });
}
