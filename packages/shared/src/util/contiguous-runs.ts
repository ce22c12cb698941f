/** Sorted bucket starts as [from, to) runs of adjacent buckets of `widthMs`. */
export function contiguousRuns(
  startsMs: readonly number[],
  widthMs: number,
): { fromMs: number; toMs: number }[] {
  const runs: { fromMs: number; toMs: number }[] = [];
  for (const startMs of startsMs) {
    const last = runs.at(-1);
    if (last && last.toMs === startMs) last.toMs = startMs + widthMs;
    else runs.push({ fromMs: startMs, toMs: startMs + widthMs });
  }
  return runs;
}
