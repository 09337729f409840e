import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { LEVELS, levelOf } from '../../src/heatmap/colors';
import { AnalysisView, describeChoice, type PaintChoice } from '../../src/heatmap/metrics';
import { LineIndex, paintSpans } from '../../src/heatmap/offsets';
import { buildHoverMarkdown, inlineCode, unitStrip, visibleTokenText } from '../../src/hover/hoverContent';
import { makeAnalysis } from './analysisFixture';

const TEXT = 'the cat sat on the mat.\n\tthe end';
const mlp0: PaintChoice = { site: { kind: 'site', name: 'transformer.h.0.mlp.dropout' }, metric: 'active', unit: 0, rounded: true };

describe('AnalysisView metrics', () => {
  const a = makeAnalysis(TEXT);
  const view = new AnalysisView(a);

  it('paints the engine\'s active counts (rounded) and Σm (soft) of a site', () => {
    const site = 3; // layer 0 MLP
    const { values } = view.values(mlp0);
    assert.deepEqual(Array.from(values), a.layers[site].active);
    const soft = view.values({ ...mlp0, rounded: false }).values;
    for (let t = 0; t < a.tokens.length; t++) assert.ok(Math.abs(soft[t] - a.layers[site].mean[t] * 64) < 1e-3);
  });

  it('decodes single-unit masks from the base64 bytes', () => {
    const bytes = Buffer.from(a.layers[3].masks, 'base64');
    const u = 5;
    const { values } = view.values({ ...mlp0, metric: 'unit', unit: u, rounded: false });
    for (let t = 0; t < a.tokens.length; t++) assert.ok(Math.abs(values[t] - bytes[t * 64 + u] / 255) < 1e-6);
    const on = view.values({ ...mlp0, metric: 'unit', unit: u, rounded: true }).values;
    for (let t = 0; t < a.tokens.length; t++) assert.equal(on[t], bytes[t * 64 + u] >= 128 ? 1 : 0);
  });

  it('sums active units over every site for "all layers"', () => {
    const { values } = view.values({ site: { kind: 'all' }, metric: 'active', unit: 0, rounded: true });
    for (let t = 0; t < a.tokens.length; t++) assert.equal(values[t], a.layers.reduce((s, l) => s + l.active[t], 0));
  });

  it('falls back to the last MLP site when the chosen site is not in this model', () => {
    assert.equal(view.resolveSite({ kind: 'site', name: 'transformer.h.9.mlp.dropout' }), 6);
  });

  it('averages a token type over its occurrences', () => {
    const id = a.tokens[0].id; // "t"
    const idx = a.tokens.map((t, i) => (t.id === id ? i : -1)).filter((i) => i >= 0);
    const { values } = view.values(mlp0);
    const avg = view.typeAverage(id, mlp0);
    assert.equal(avg.count, idx.length);
    assert.ok(Math.abs(avg.mean - idx.reduce((s, i) => s + values[i], 0) / idx.length) < 1e-9);
  });

  it('describes the choice', () => {
    assert.equal(describeChoice(mlp0, a.sites), 'layer 0 · MLP · active units (m ≥ 0.5)');
    assert.equal(describeChoice({ ...mlp0, site: { kind: 'all' }, rounded: false, metric: 'mean' }, a.sites), 'all layers · mean mask');
  });
});

describe('hover content', () => {
  const a = makeAnalysis(TEXT);
  const view = new AnalysisView(a);

  it('shows the token and id, a layer × site picture, the unit strip, the type average and command links', () => {
    const md = buildHoverMarkdown({ view, index: 4, choice: mlp0, uri: 'file:///w/a.txt' });
    assert.match(md, /\*\*`c`\*\* token 5 of \d+ · id \d+/);
    assert.match(md, /surprisal [\d.]+ nats/);
    assert.match(md, /\| layer 0 \| . \d+ \| . \d+\/64 \| . \d+\/64 \|/);
    assert.match(md, /Embedding: . \d+\/64 active/);
    assert.match(md, /Units at \*\*layer 0 · MLP\*\*/);
    assert.match(md, /```text\n[█░]{32}\n[█░]{32}\n```\n\d+ of 64 units on/);
    assert.match(md, /average for this token type \(\d+×\)/);
    assert.match(md, /\[\$\(preview\) Open in Mask Explorer\]\(command:ldlens\.openInMaskExplorer\?/);
    assert.match(md, /command:ldlens\.pinToken\?/);
    const args = JSON.parse(decodeURIComponent(/command:ldlens\.pinToken\?([^ )]+)/.exec(md)![1]));
    assert.deepEqual(args, [{ uri: 'file:///w/a.txt', index: 4 }]);
  });

  it('compares with a pinned token', () => {
    const md = buildHoverMarkdown({ view, index: 4, choice: mlp0, uri: 'u', pinned: { view, index: 0, label: 't' } });
    assert.match(md, /Pinned `t`: \*\*\d+\*\* \(this token [+−]\d+\)/);
  });

  it('makes whitespace tokens visible and survives backticks', () => {
    assert.equal(visibleTokenText(' \t\n'), '␣→↵');
    assert.equal(inlineCode('`'), '`` ` ``');
  });

  it('draws the soft strip with block heights', () => {
    const strip = unitStrip(view, 3, 2, false);
    assert.match(strip, /^```text\n[▁▂▃▄▅▆▇█]{32}\n/);
  });

  it('shows attention units one row per head', () => {
    const strip = unitStrip(view, 1, 10, true);
    const rows = strip.split('\n').slice(1, 5);
    assert.equal(rows.length, 4);
    for (const r of rows) assert.equal([...r].length, 64);
  });
});

describe('performance (targets: < 100 ms result → decorations, < 50 ms per hover)', () => {
  // 5,000 tokens of a tiny-preset model: what painting a long document costs outside VS Code's
  // own setDecorations (measured in the e2e suite).
  const text = 'It was the best of times, it was the worst of times.\n'.repeat(95).slice(0, 5000);
  const a = makeAnalysis(text);
  assert.equal(a.tokens.length, 5000);

  /** Median of several timed runs (one GC pause on a 2-core CI machine is not the code's cost). */
  function median(f: () => void, reps = 5): number {
    const t: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      f();
      t.push(performance.now() - t0);
    }
    return t.sort((x, y) => x - y)[reps >> 1];
  }

  it('maps 5,000 tokens to ranges and colour levels in under 100 ms, and a layer switch in under 50 ms', () => {
    let view!: AnalysisView;
    let ranges!: unknown[];
    const first = median(() => {
      view = new AnalysisView(a);
      const spans = paintSpans(text, a.tokens);
      const idx = new LineIndex(text);
      ranges = Array.from(spans.starts, (s, i) => [idx.positionAt(s), idx.positionAt(spans.ends[i])]);
      const buckets: number[][] = Array.from({ length: LEVELS }, () => []);
      const { values, domain } = view.values(mlp0);
      for (let i = 0; i < ranges.length; i++) buckets[levelOf(values[i], domain[0], domain[1])].push(i);
    });
    const names = a.sites.map((x) => x.name);
    let k = 0;
    const sw = median(() => {
      const v = new AnalysisView(a); // uncached values
      const other = v.values({ ...mlp0, site: { kind: 'site', name: names[k++ % names.length] } });
      const buckets: number[][] = Array.from({ length: LEVELS }, () => []);
      for (let i = 0; i < ranges.length; i++) buckets[levelOf(other.values[i], other.domain[0], other.domain[1])].push(i);
    });
    console.log(`  paint pipeline: ${first.toFixed(1)} ms; layer switch: ${sw.toFixed(1)} ms (medians)`);
    assert.ok(first < 100, `first paint ${first} ms`);
    assert.ok(sw < 50, `layer switch ${sw} ms`);
  });

  it('builds a hover in under 50 ms (first one included)', () => {
    let i = 0;
    const t = median(() => buildHoverMarkdown({ view: new AnalysisView(a), index: [0, 2500, 4999, 17, 3001][i++], choice: mlp0, uri: 'u' }));
    console.log(`  hover on a fresh analysis: ${t.toFixed(2)} ms (median)`);
    assert.ok(t < 50, `hover ${t} ms`);
  });
});
