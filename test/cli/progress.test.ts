// The CLI's progress line: the rate and the time left come from units that took work, so a
// resumed experiment whose first stages are cache hits does not promise minutes for hours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressLine } from '../../src/cli/progress.js';

function fakeStream(lines: string[]): NodeJS.WriteStream {
  return { isTTY: false, write: (s: string) => (lines.push(s.trimEnd()), true) } as unknown as NodeJS.WriteStream;
}

test('cache hits do not count toward the rate; without them the first update counts one unit', () => {
  let t = 0;
  const lines: string[] = [];
  const p = progressLine('stages', fakeStream(lines), () => t);
  t = 1000; // ten stages served from the cache within a second
  for (let d = 1; d <= 10; d++) p({ done: d, free: d, total: 12 });
  assert.match(lines.at(-1)!, /^stages 10\/12 0\.00\/s, time left unknown yet$/);
  t = 101_000; // then one stage of work: one stage left at ~101 s
  p({ done: 11, free: 10, total: 12 });
  assert.match(lines.at(-1)!, /^stages 11\/12 0\.01\/s, 2min left$/);

  const plain: string[] = [];
  t = 0;
  const q = progressLine('steps', fakeStream(plain), () => t);
  t = 10_000; // a resumed run's first report: one step in 10 s, 5 steps left
  q({ done: 51, total: 56 });
  assert.match(plain.at(-1)!, /^steps 51\/56 0\.10\/s, 50s left$/);
});
