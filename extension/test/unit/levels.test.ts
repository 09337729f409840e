// What the heatmap paints by default, how values become colours, and what the legend and hover
// say about it, for analyses with and without issue 13's fields (older engines).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnalysisResult } from '@common/protocol';
import { LEVELS } from '../../src/heatmap/colors';
import { buildLegend } from '../../src/heatmap/legend';
import { computeLevels, quantile } from '../../src/heatmap/levels';
import { AnalysisView, DEFAULT_CHOICE, type PaintChoice } from '../../src/heatmap/metrics';
import { buildHoverMarkdown } from '../../src/hover/hoverContent';
import { siteFiguresMarkdown, UNDECIDED_BELOW } from '../../src/hover/siteFigures';
import { makeAnalysis } from './analysisFixture';

const TEXT = 'It was the best of times, it was the worst of times.\n'.repeat(6);

/** Pearson correlation. */
function corr(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) (mx += x[i] / n), (my += y[i] / n);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** Each token's position in its analysis window (window 64, stride 32, as the fixture). */
function windowPositions(a: AnalysisResult): number[] {
  const { window: w, stride } = a;
  return a.tokens.map((_, t) => (t < w ? t : ((t - w) % stride) + w - stride));
}

/**
 * Attention counts as the engine makes them over strided windows: out of heads × (position + 1)
 * causal keys, so the counts ramp up over each window while the kept fraction depends on the token.
 */
function windowedAttention(a: AnalysisResult): AnalysisResult {
  const pos = windowPositions(a);
  const layers = a.layers.map((l, i) => {
    if (a.sites[i].kind !== 'attention') return l;
    const keys = pos.map((p) => 4 * (p + 1));
    const fraction = a.tokens.map((tok) => 0.45 + 0.1 * (((tok.id * 7) % 5) / 4));
    const active = keys.map((k, t) => Math.round(k * fraction[t]));
    return { ...l, keys, active, fraction: active.map((x, t) => x / keys[t]) };
  });
  return { ...a, layers };
}

describe('the default painted metric', () => {
  const a = windowedAttention(makeAnalysis(TEXT, { blockSize: 64, nEmbd: 32 }));
  const pos = windowPositions(a);

  it("paints the engine's `painted` values, not a sum that follows window position", () => {
    const view = new AnalysisView(a);
    const { values } = view.values(DEFAULT_CHOICE);
    assert.deepEqual(Array.from(values), Array.from(Float32Array.from(a.painted!)));
    // The old default (active units summed over every site, attention included) is a ramp over
    // the window; what is painted now is not.
    const oldSum = a.tokens.map((_, t) => a.layers.reduce((s, l) => s + l.active[t], 0));
    assert.ok(corr(oldSum, pos) > 0.6, `the fixture's attention counts grow with position (r = ${corr(oldSum, pos).toFixed(3)})`);
    assert.ok(Math.abs(corr(values, pos)) < 0.3, `painted values do not follow position (r = ${corr(values, pos).toFixed(3)})`);
  });

  it('paints the engine value even when it differs from what the views would compute', () => {
    const painted = a.tokens.map((_, t) => (t % 2 ? 1 : 0));
    const view = new AnalysisView({ ...a, painted });
    assert.deepEqual(Array.from(view.values(DEFAULT_CHOICE).values), painted);
    assert.match(view.explain(DEFAULT_CHOICE).measures, /non-attention sites/);
  });

  it('without `painted` (an older engine), falls back to the kept fraction over the non-attention sites', () => {
    const old = windowedAttention(makeAnalysis(TEXT, { blockSize: 64, nEmbd: 32, contract: false }));
    assert.equal(old.painted, undefined);
    const view = new AnalysisView(old);
    const { values } = view.values(DEFAULT_CHOICE);
    const others = old.sites.map((s, i) => (s.kind === 'attention' ? -1 : i)).filter((i) => i >= 0);
    for (let t = 0; t < old.tokens.length; t++) {
      const want = others.reduce((s, i) => s + old.layers[i].active[t] / old.sites[i].units, 0) / others.length;
      assert.ok(Math.abs(values[t] - want) < 1e-6, `token ${t}`);
    }
    assert.ok(Math.abs(corr(values, pos)) < 0.3, `r = ${corr(values, pos).toFixed(3)}`);
    assert.match(view.explain(DEFAULT_CHOICE).measures, /computed here: this engine sends no painted value/);
  });

  it('paints attention sites as the fraction of causal keys kept', () => {
    const view = new AnalysisView(windowedAttention(makeAnalysis(TEXT, { blockSize: 64, nEmbd: 32, contract: false })));
    const attn: PaintChoice = { ...DEFAULT_CHOICE, site: { kind: 'site', name: 'transformer.h.0.attn.attn_dropout' }, metric: 'fraction' };
    const { values } = view.values(attn);
    const l = view.analysis.layers[1];
    for (let t = 0; t < view.tokenCount; t++) assert.ok(Math.abs(values[t] - l.active[t] / l.keys![t]) < 1e-6);
    assert.ok(Math.abs(corr(values, pos)) < 0.5, `r = ${corr(values, pos).toFixed(3)}`);
    assert.ok(corr(Array.from(l.active), pos) > 0.9, 'while the raw counts follow position');
  });

  it('paints trained − chance, and says so when there is no chance baseline', () => {
    const view = new AnalysisView(a);
    const choice: PaintChoice = { ...DEFAULT_CHOICE, site: { kind: 'site', name: 'transformer.h.1.mlp.dropout' }, metric: 'vsChance' };
    const l = a.layers[6];
    const { values } = view.values(choice);
    for (let t = 0; t < a.tokens.length; t++) assert.ok(Math.abs(values[t] - (l.fraction![t] - l.chance!.fraction[t])) < 1e-6);
    assert.equal(view.explain(choice).missing, undefined);

    const old = new AnalysisView(makeAnalysis(TEXT, { contract: false }));
    assert.ok(Array.from(old.values(choice).values).every((v) => Number.isNaN(v)));
    const ex = old.explain(choice);
    assert.match(ex.missing ?? '', /no chance baseline/);
    const lv = old.levels(choice, 'quantile');
    assert.ok(Array.from(lv.level).every((x) => x === -1), 'nothing is painted');
    const legend = buildLegend({ what: 'x', explanation: ex, levels: lv, colors: [], step: 1, painted: 0, tokens: 1 });
    assert.match(legend.text, /not available/);
    assert.match(legend.tooltip, /no chance baseline/);
  });

  it('paints decidedness when the engine sends it, nothing otherwise', () => {
    const choice: PaintChoice = { ...DEFAULT_CHOICE, metric: 'decided' };
    const view = new AnalysisView(a);
    const others = [0, 2, 3, 5, 6];
    const { values } = view.values(choice);
    for (let t = 0; t < 5; t++) assert.ok(Math.abs(values[t] - others.reduce((s, i) => s + a.layers[i].decided![t], 0) / others.length) < 1e-6);
    assert.match(new AnalysisView(makeAnalysis(TEXT, { contract: false })).explain(choice).missing ?? '', /no decidedness/);
  });
});

describe('colour levels', () => {
  // Skewed: most values small, a few large (what an outlier token does to linear levels).
  const skewed = Float32Array.from({ length: 800 }, (_, i) => (i % 50 === 0 ? 100 + i : (i * 7919) % 97) / 100);

  it('quantile levels give each colour about an eighth of the tokens; linear ones do not', () => {
    const q = computeLevels(skewed, 'quantile');
    const lin = computeLevels(skewed, 'linear');
    const counts = (lv: Int8Array) => Array.from({ length: LEVELS }, (_, l) => lv.filter((x) => x === l).length);
    for (const c of counts(q.level)) assert.ok(Math.abs(c - skewed.length / LEVELS) <= skewed.length * 0.03, `quantile counts ${counts(q.level)}`);
    assert.ok(counts(lin.level)[0] > skewed.length * 0.9, `linear counts ${counts(lin.level)}`);
    // Levels are monotone in the value.
    const order = Array.from(skewed.keys()).sort((i, j) => skewed[i] - skewed[j]);
    for (let k = 1; k < order.length; k++) assert.ok(q.level[order[k]] >= q.level[order[k - 1]]);
    assert.equal(q.bounds.length, LEVELS + 1);
    assert.equal(q.bounds[0], Math.min(...skewed));
  });

  it('z-score levels place values by standard deviations from the mean', () => {
    const v = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const z = computeLevels(v, 'zscore');
    const sd = Math.sqrt(v.reduce((s, x) => s + (x - 5) ** 2, 0) / 10);
    assert.ok(Math.abs(z.mean - 5) < 1e-12 && Math.abs(z.sd - sd) < 1e-12);
    v.forEach((x, i) => {
      const zz = (x - 5) / sd;
      const want = [-1.5, -1, -0.5, 0, 0.5, 1, 1.5].filter((e) => zz > e).length;
      assert.equal(z.level[i], want, `value ${x}`);
    });
  });

  it('leaves values that are not numbers unpainted and paints a flat text in the middle colour', () => {
    const lv = computeLevels([NaN, 0.5, 0.5, NaN], 'quantile');
    assert.deepEqual(Array.from(lv.level), [-1, LEVELS >> 1, LEVELS >> 1, -1]);
    assert.equal(lv.count, 2);
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  });

  it('the legend says which metric, which sites and which levelling, with each colour\'s range', () => {
    const a = makeAnalysis(TEXT);
    const view = new AnalysisView(a);
    const lv = view.levels(DEFAULT_CHOICE, 'quantile');
    const colors = Array.from({ length: LEVELS }, (_, l) => `#0000${String(l).padStart(2, '0')}`);
    const legend = buildLegend({ what: 'all layers · default', explanation: view.explain(DEFAULT_CHOICE), levels: lv, colors, step: 60, painted: a.tokens.length, tokens: a.tokens.length });
    assert.match(legend.text, /^\$\(symbol-color\) all layers default \(quantiles\) [\d.]+ [▁▂▃▄▅▆▇█]{8} [\d.]+$/);
    assert.match(legend.tooltip, /Measures: fraction of units kept/);
    assert.match(legend.tooltip, /Sites: 5 of 7 sites/);
    assert.match(legend.tooltip, /Colours: quantile levels/);
    assert.equal((legend.tooltip.match(/\(\d+ tokens\)/g) ?? []).length, LEVELS);
  });
});

describe('hover figures next to chance', () => {
  it('says "kept, chance ± sd" per site, with the spread of chance over the text', () => {
    const a = makeAnalysis(TEXT);
    const md = siteFiguresMarkdown(new AnalysisView(a), 7);
    const cf = a.layers[6].chance!.fraction;
    const mean = cf.reduce((s, x) => s + x, 0) / cf.length;
    const sd = Math.sqrt(cf.reduce((s, x) => s + (x - mean) ** 2, 0) / (cf.length - 1));
    const row = md.split('\n').find((r) => r.startsWith('| L1 mlp |'))!;
    assert.ok(row.includes(`${a.layers[6].fraction![7].toFixed(2)} (${a.layers[6].active[7]}/64)`), row);
    assert.ok(row.includes(`${cf[7].toFixed(2)} ± ${sd.toFixed(2)}`), row);
    assert.doesNotMatch(md, /No chance baseline/);
  });

  it('says when there is no chance baseline or decidedness, and shows no chance column', () => {
    const md = buildHoverMarkdown({ view: new AnalysisView(makeAnalysis(TEXT, { contract: false })), index: 3, choice: DEFAULT_CHOICE, uri: 'u' });
    assert.match(md, /No chance baseline in this analysis/);
    assert.match(md, /no decidedness/);
    assert.match(md, /\| site \| (&nbsp;)+kept \| (&nbsp;)+decided \| (&nbsp;)+m̄ \|/);
    assert.doesNotMatch(md, /±/);
  });

  it('says plainly when the masks are undecided, and only then', () => {
    const a = makeAnalysis(TEXT);
    const undecided = { ...a, layers: a.layers.map((l) => ({ ...l, decided: l.decided!.map(() => UNDECIDED_BELOW / 2) })) };
    assert.match(siteFiguresMarkdown(new AnalysisView(undecided), 2), /\*\*Undecided masks\*\*: at every site/);
    const decided = { ...a, layers: a.layers.map((l) => ({ ...l, decided: l.decided!.map(() => 0.9) })) };
    assert.doesNotMatch(siteFiguresMarkdown(new AnalysisView(decided), 2), /Undecided/);
    const some = { ...a, layers: a.layers.map((l, i) => ({ ...l, decided: l.decided!.map(() => (i === 3 ? 0.05 : 0.9)) })) };
    assert.match(siteFiguresMarkdown(new AnalysisView(some), 2), /\*\*Undecided\*\* at L0 mlp \(/);
  });
});
