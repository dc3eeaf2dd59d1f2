// A one-line progress bar on stderr (only when stderr is a terminal, otherwise a line
// every 10%), so stdout stays clean for --json output.
export function progressBar(label: string): (done: number, total: number, extra?: string) => void {
  const tty = process.stderr.isTTY;
  let lastDecile = -1;
  const start = Date.now();
  return (done, total, extra = '') => {
    const frac = total > 0 ? done / total : 1;
    const secs = (Date.now() - start) / 1000;
    const eta = frac > 0 ? secs / frac - secs : 0;
    const text = `${label} ${done}/${total} ${(100 * frac).toFixed(0)}% ${secs.toFixed(0)}s elapsed, ~${eta.toFixed(0)}s left ${extra}`;
    if (tty) {
      const width = 24, fill = Math.round(width * frac);
      process.stderr.write(`\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${text}`.padEnd(100) + (done === total ? '\n' : ''));
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== lastDecile || done === total) {
        lastDecile = decile;
        process.stderr.write(text + '\n');
      }
    }
  };
}
