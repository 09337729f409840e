import assert from 'node:assert/strict';
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

  it('sums active units over every site but attention for "all layers" (attention counts follow window position)', () => {
    const { values } = view.values({ site: { kind: 'all' }, metric: 'active', unit: 0, rounded: true });
    for (let t = 0; t < a.tokens.length; t++) assert.equal(values[t], a.layers.reduce((s, l, i) => s + (a.sites[i].kind === 'attention' ? 0 : l.active[t]), 0));
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
    assert.equal(describeChoice({ ...mlp0, site: { kind: 'all' }, rounded: false, metric: 'mean' }, a.sites), 'all layers · soft mass (mean m)');
    assert.equal(describeChoice({ ...mlp0, site: { kind: 'all' }, metric: 'painted' }, a.sites), 'all layers · default');
    assert.equal(describeChoice({ ...mlp0, metric: 'painted' }, a.sites), 'layer 0 · MLP · kept fraction');
  });
});

describe('hover content', () => {
  const a = makeAnalysis(TEXT);
  const view = new AnalysisView(a);

  it('shows the token and id, per-site figures next to chance, the unit strip, the type average and command links', () => {
    const md = buildHoverMarkdown({ view, index: 4, choice: mlp0, uri: 'file:///w/a.txt' });
    assert.match(md, /\*\*`c`\*\* token 5 of \d+ · id \d+/);
    assert.match(md, /surprisal [\d.]+ nats/);
    assert.match(md, /\| site \| (&nbsp;)+kept \| (&nbsp;)+chance \| (&nbsp;)+decided \| (&nbsp;)+chance \| (&nbsp;)+m̄ \| (&nbsp;)+chance \|\n\|:--\|--:\|--:\|--:\|--:\|--:\|--:\|\n/);
    // Attention: kept of heads × the token's causal keys (4 heads, token 5: 4 × 5); the others of their units.
    const l1 = a.layers[1];
    const want = `| L0 attn | ${'&nbsp;'.repeat(3)}`;
    const row = md.split('\n').find((x) => x.startsWith(want))!;
    assert.ok(row, md);
    assert.ok(row.includes(`${l1.fraction![4].toFixed(2)} (${l1.active[4]}/20)`), row);
    assert.ok(row.includes(`${l1.chance!.fraction[4].toFixed(2)} ± `), row);
    assert.ok(row.includes(l1.decided![4].toFixed(2)), row);
    assert.match(md, /\| emb \| (&nbsp;)+. [\d.]+ \(\d+\/64\) \|/);
    assert.match(md, /Units at \*\*layer 0 · MLP\*\*/);
    // Lines of 16 units: 32 block characters (307 px) were clipped by a 250 px hover.
    assert.match(md, /```text\n[█░]{16}\n[█░]{16}\n[█░]{16}\n[█░]{16}\n```\n\d+ of 64 units on/);
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
    assert.equal(visibleTokenText(' \t\n'), '␣⇥⏎');
    assert.equal(inlineCode('`'), '`` ` ``');
  });

  it('draws the soft strip with block heights', () => {
    const strip = unitStrip(view, 3, 2, false);
    assert.match(strip, /^```text\n[▁▂▃▄▅▆▇█]{16}\n/);
  });

  it('shows attention units each head on lines of its own, counted over the causal keys as in the table', () => {
    const strip = unitStrip(view, 1, 10, true);
    // 4 heads × 64 keys: 4 lines a head, the first 8 lines shown.
    const rows = strip.split('\n').slice(1, 9);
    for (const r of rows) assert.equal([...r].length, 16);
    assert.match(strip, /\n… 128 more units\n```/);
    assert.match(strip, new RegExp(`\\n${a.layers[1].active[10]} of 44 \\(heads × causal keys\\) on$`));
    const md = buildHoverMarkdown({ view, index: 10, choice: { ...mlp0, site: { kind: 'site', name: 'transformer.h.0.attn.attn_dropout' } }, uri: 'u' });
    assert.match(md, new RegExp(`\\| L0 attn \\| (&nbsp;)+. [\\d.]+ \\(${a.layers[1].active[10]}/44\\) \\|`));
  });

  it('starts each head on a line of its own at any block size (rows of blockSize keys, not of 64)', () => {
    // 4 heads × 24 keys: a head is a line of 16 and one of 8 (rows of 64 would run heads together).
    const small = new AnalysisView(makeAnalysis(TEXT, { nHead: 4, blockSize: 24 }));
    const rows = unitStrip(small, 1, 10, true).split('\n').slice(1, 9);
    assert.deepEqual(rows.map((r) => [...r].length), [16, 8, 16, 8, 16, 8, 16, 8]);
    // 2 heads × 40 keys: 16, 16, 8 a head, and the last 0 units left over.
    const wide = makeAnalysis(TEXT, { nHead: 2, blockSize: 40 });
    const strip = unitStrip(new AnalysisView(wide), 1, 3, true);
    assert.deepEqual(strip.split('\n').slice(1, 7).map((r) => [...r].length), [16, 16, 8, 16, 16, 8]);
    assert.doesNotMatch(strip, /more units/);
    // An analysis without the site's heads: one causal key a head for the text's first token.
    const noHeads = new AnalysisView({ ...wide, sites: wide.sites.map(({ heads: _, ...s }) => s) });
    assert.equal(unitStrip(noHeads, 1, 3, true), strip);
  });

  it('keeps the units as the attention denominator for analyses without causal key counts', () => {
    const old = new AnalysisView({ ...a, layers: a.layers.map(({ keys: _, ...l }) => l) });
    assert.match(buildHoverMarkdown({ view: old, index: 4, choice: mlp0, uri: 'u' }), /\| L0 attn \| (&nbsp;)+. [\d.]+ \(\d+\/256\) \|/);
  });
});

describe('painting a long document (its speed is measured in extension/bench/heatmap.bench.ts)', () => {
  const text = 'It was the best of times, it was the worst of times.\n'.repeat(95).slice(0, 5000);
  const a = makeAnalysis(text);

  it('maps 5,000 tokens to ranges and colour levels, for every site', () => {
    assert.equal(a.tokens.length, 5000);
    const view = new AnalysisView(a);
    const spans = paintSpans(text, a.tokens);
    const idx = new LineIndex(text);
    assert.equal(spans.starts.length, 5000);
    for (const name of a.sites.map((x) => x.name)) {
      const { values, domain } = view.values({ ...mlp0, site: { kind: 'site', name } });
      for (let i = 0; i < values.length; i++) {
        const level = levelOf(values[i], domain[0], domain[1]);
        assert.ok(level >= 0 && level < LEVELS);
      }
    }
    const last = idx.positionAt(spans.ends[4999]);
    assert.equal(text.split('\n').slice(0, last.line).join('\n').length + 1 + last.character, spans.ends[4999]);
    assert.match(buildHoverMarkdown({ view, index: 4999, choice: mlp0, uri: 'u' }), /layer/);
  });
});
