// Benchmark: the extension's painting pipeline for a 5,000-token analysis (offsets → ranges →
// colour levels), a layer switch, and building a hover. Targets (issue: heatmaps over the text):
// < 100 ms from result to decorations, < 50 ms per hover. VS Code's own setDecorations is measured
// in the e2e suite. Usage: npx tsx extension/bench/heatmap.bench.ts [--json]
import { performance } from 'node:perf_hooks';
import { LEVELS, levelOf } from '../src/heatmap/colors';
import { AnalysisView, type PaintChoice } from '../src/heatmap/metrics';
import { clusterBoundaries, LineIndex, paintSpans } from '../src/heatmap/offsets';
import { buildHoverMarkdown } from '../src/hover/hoverContent';
import { makeAnalysis } from '../test/unit/analysisFixture';

const mlp0: PaintChoice = { site: { kind: 'site', name: 'transformer.h.0.mlp.dropout' }, metric: 'active', unit: 0, rounded: true };
const text = 'It was the best of times, it was the worst of times.\n'.repeat(95).slice(0, 5000);
const a = makeAnalysis(text);

/** Median of several timed runs (one GC pause on a 2-core machine is not the code's cost). */
function median(f: () => void, reps = 9): number {
  const t: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
  }
  return t.sort((x, y) => x - y)[reps >> 1];
}

let ranges: unknown[] = [];
const paintMs = median(() => {
  const view = new AnalysisView(a);
  const spans = paintSpans(text, a.tokens);
  const idx = new LineIndex(text);
  ranges = Array.from(spans.starts, (s, i) => [idx.positionAt(s), idx.positionAt(spans.ends[i])]);
  const buckets: number[][] = Array.from({ length: LEVELS }, () => []);
  const { values, domain } = view.values(mlp0);
  for (let i = 0; i < ranges.length; i++) buckets[levelOf(values[i], domain[0], domain[1])].push(i);
});
const names = a.sites.map((x) => x.name);
let k = 0;
const layerSwitchMs = median(() => {
  const v = new AnalysisView(a); // values not cached yet, as after a switch
  const other = v.values({ ...mlp0, site: { kind: 'site', name: names[k++ % names.length] } });
  const buckets: number[][] = Array.from({ length: LEVELS }, () => []);
  for (let i = 0; i < ranges.length; i++) buckets[levelOf(other.values[i], other.domain[0], other.domain[1])].push(i);
});
let h = 0;
const hoverMs = median(() => buildHoverMarkdown({ view: new AnalysisView(a), index: [0, 2500, 4999, 17, 3001][h++ % 5], choice: mlp0, uri: 'u' }));

// A 2 MB document dense in combining marks, emoji, ZWJ sequences, CJK and RTL: painting one
// 5,000-token window of it (what the heatmap does per analysis window / visible range), and the
// cluster boundaries of the whole of it (one segmenter pass over it used to take minutes).
const mixed = ['plain words ', 'e\u0301', 'മലയാളം', '👩‍💻', '🇫🇷', '日本語', 'עברית', 'العربية', '\n'];
let big = '';
for (let i = 0; big.length < 2 * 1024 * 1024; i++) big += mixed[(i * 7919) % mixed.length];
const mid = big.length >> 1;
const windowTokens = Array.from({ length: 5000 }, (_, i) => ({ start: i, end: i + 1 }));
const window2MbMs = median(() => paintSpans(big, windowTokens, mid));
const t0 = performance.now();
clusterBoundaries(big);
const clusters2MbMs = performance.now() - t0;

const result = { tokens: a.tokens.length, paintMs, layerSwitchMs, hoverMs, window2MbMs, clusters2MbMs, targets: { paintMs: 100, layerSwitchMs: 100, hoverMs: 50 } };
if (process.argv.includes('--json')) console.log(JSON.stringify(result));
else console.log(`5,000 tokens: paint pipeline ${paintMs.toFixed(1)} ms, layer switch ${layerSwitchMs.toFixed(1)} ms, hover ${hoverMs.toFixed(2)} ms (medians); 2 MB mixed-script document: a 5,000-token window ${window2MbMs.toFixed(1)} ms, cluster boundaries of all of it ${clusters2MbMs.toFixed(0)} ms`);
