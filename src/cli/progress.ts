// The CLI's rendering of library progress: on a terminal one line rewritten in place with
// steps/s and the time left (log lines are printed above it, and it is redrawn below
// them); otherwise (a log file, CI) a plain line every 10% and at the end.
import type { Progress } from '../util/progress.js';

/** The progress line now shown on the terminal ('' when none). */
let current = '';
const CLEAR = '\r\x1b[K';

/** Writes a log line to stderr without garbling a progress line on a terminal. */
export function writeLogLine(s: string, stream: NodeJS.WriteStream = process.stderr): void {
  if (stream.isTTY && current) stream.write(`${CLEAR}${s}\n${current}`);
  else stream.write(`${s}\n`);
}

export function progressLine(label: string, stream: NodeJS.WriteStream = process.stderr, now: () => number = Date.now): Progress {
  const tty = !!stream.isTTY;
  const start = now();
  let first: number | null = null;
  let lastDecile = -1;
  return ({ done, total, text = '', free }) => {
    const worked = done - (free ?? 0);
    // A resumed run measures its rate from where it resumed. Without `free` the first update
    // reports one unit done since the start; with it, units that took work are counted from 0.
    first ??= free === undefined ? worked - 1 : worked - (worked > 0 ? 1 : 0);
    const secs = (now() - start) / 1000;
    const rate = secs > 0 ? (worked - first) / secs : 0;
    const left = rate > 0 ? `${formatSeconds(Math.max(0, total - done) / rate)} left` : 'time left unknown yet';
    const line = `${label} ${done}/${total} ${rate.toFixed(2)}/s, ${left}${text ? ` ${text}` : ''}`;
    if (tty) {
      const finished = done >= total;
      current = finished ? '' : line;
      stream.write(CLEAR + line + (finished ? '\n' : ''));
      return;
    }
    const decile = Math.floor((10 * done) / Math.max(total, 1));
    if (decile !== lastDecile || done === total) {
      lastDecile = decile;
      stream.write(line + '\n');
    }
  };
}

function formatSeconds(s: number): string {
  if (s < 90) return `${Math.round(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}min`;
  return `${(s / 3600).toFixed(1)}h`;
}
