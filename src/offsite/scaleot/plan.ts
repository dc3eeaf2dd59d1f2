// The emulator's layer plan from importance scores (ScaleOT Eqs. 8-11, METHOD.md Stage 2):
// blocks fall into N_g groups of adjacent indices; inside each group blocks are ranked by
// score (highest first, ties to the lower index). The top N_a / N_g of every group become
// adapters, the lowest-ranked non-adapters are replaced by harmonizers so that round(α·n)
// blocks in all are harmonized, and every other block is compressed by SRC(m_i, β).
// When a total does not divide by N_g, each group gets the floor share and the remainder
// goes, one block at a time, to the group whose next candidate ranks highest (adapters:
// highest score, ties to the lower index) or lowest (harmonized: lowest score, ties to the
// higher index, i.e. the one ranked later).
import { roundHalfEven } from '../../util/round.js';

/**
 * ScaleOT uses adapter / harmonized / src; the baselines use kept (shipped as is),
 * dropped (skipped: identity) and shared (the slot reuses another kept block's weights).
 */
export type Role = 'adapter' | 'harmonized' | 'src' | 'kept' | 'dropped' | 'shared';

export interface LayerPlan {
  n: number;
  numGroups: number;
  numAdapters: number;
  alpha: number;
  groups: number[][];
  scores: number[];
  roles: Role[];
  adapters: number[];
  harmonized: number[];
  compressed: number[];
}

/** N_g groups of adjacent block indices; the remainder goes to the first groups. */
export function makeGroups(n: number, numGroups: number): number[][] {
  if (!(Number.isInteger(numGroups) && numGroups >= 1 && numGroups <= n)) throw new RangeError(`N_g = ${numGroups} must be in [1, ${n}]`);
  const base = Math.floor(n / numGroups), extra = n % numGroups;
  const groups: number[][] = [];
  let start = 0;
  for (let g = 0; g < numGroups; g++) {
    const size = base + (g < extra ? 1 : 0);
    groups.push(Array.from({ length: size }, (_, i) => start + i));
    start += size;
  }
  return groups;
}

/** A group's blocks by importance: highest score first, ties to the lower index. */
export function rankGroup(group: number[], scores: number[]): number[] {
  return [...group].sort((a, b) => scores[b] - scores[a] || a - b);
}

/**
 * Hands out `left` more blocks one at a time: each goes to the group whose next candidate
 * (queues[g][taken[g]]) is preferred over every other group's; exhausted groups are skipped.
 */
function giveRemainder(left: number, queues: number[][], taken: number[], prefer: (cand: number, current: number) => boolean, what: string): void {
  for (; left > 0; left--) {
    let best = -1;
    for (let g = 0; g < queues.length; g++) {
      if (taken[g] >= queues[g].length) continue;
      if (best < 0 || prefer(queues[g][taken[g]], queues[best][taken[best]])) best = g;
    }
    if (best < 0) throw new RangeError(`not enough ${what}`);
    taken[best]++;
  }
}

export function planEmulator(scores: number[], opts: { numAdapters: number; alpha: number; numGroups?: number }): LayerPlan {
  const n = scores.length;
  const numGroups = opts.numGroups ?? 4;
  const { numAdapters, alpha } = opts;
  if (!(Number.isInteger(numAdapters) && numAdapters >= 0 && numAdapters <= n)) throw new RangeError(`N_a = ${numAdapters} must be in [0, ${n}]`);
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`α = ${alpha} must be in [0, 1]`);
  const numHarmonized = roundHalfEven(alpha * n);
  if (numAdapters + numHarmonized > n) throw new RangeError(`N_a (${numAdapters}) + round(α·n) (${numHarmonized}) exceed the ${n} blocks`);
  const groups = makeGroups(n, numGroups);
  const ranked = groups.map((g) => rankGroup(g, scores));
  const roles: Role[] = new Array<Role>(n).fill('src');

  // Adapters: floor share per group from the top, then the remainder by next-best score.
  const aTaken = groups.map(() => 0);
  const aShare = Math.floor(numAdapters / numGroups);
  groups.forEach((g, gi) => {
    if (aShare > g.length) throw new RangeError(`group ${gi} has ${g.length} blocks, fewer than N_a / N_g = ${aShare}`);
    aTaken[gi] = aShare;
  });
  giveRemainder(numAdapters - aShare * numGroups, ranked, aTaken, (c, cur) => scores[c] > scores[cur] || (scores[c] === scores[cur] && c < cur), 'adapters');
  ranked.forEach((r, gi) => r.slice(0, aTaken[gi]).forEach((b) => (roles[b] = 'adapter')));

  // Harmonized: from the bottom of each group's ranking, skipping adapters.
  const lowest = ranked.map((r) => r.filter((b) => roles[b] !== 'adapter').reverse()); // lowest-ranked first
  const hShare = Math.floor(numHarmonized / numGroups);
  const hTaken = lowest.map((l) => Math.min(hShare, l.length));
  giveRemainder(numHarmonized - hTaken.reduce((a, b) => a + b, 0), lowest, hTaken, (c, cur) => scores[c] < scores[cur] || (scores[c] === scores[cur] && c > cur), 'non-adapter blocks to harmonize');
  lowest.forEach((l, gi) => l.slice(0, hTaken[gi]).forEach((b) => (roles[b] = 'harmonized')));

  const idx = (role: Role) => roles.map((r, i) => (r === role ? i : -1)).filter((i) => i >= 0);
  return { n, numGroups, numAdapters, alpha, groups, scores: [...scores], roles, adapters: idx('adapter'), harmonized: idx('harmonized'), compressed: idx('src') };
}
