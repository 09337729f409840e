import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACTIVE_Q, decodeBase64 } from '@common/maskBytes';
import { shortSiteLabel } from '@common/sites';
import { AnalysisModel, flips, overlap, SiteMatrix, tokensWithUnit } from '../src/common/masks';
import { makeAnalysis, mulberry32, SMALL_SHAPE } from './fixtures';

describe('decodeBase64', () => {
  it('matches Buffer for every length and byte value', () => {
    const rnd = mulberry32(5);
    for (let n = 0; n < 70; n++) {
      const bytes = Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
      assert.deepEqual(decodeBase64(Buffer.from(bytes).toString('base64')), bytes, `length ${n}`);
    }
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    assert.deepEqual(decodeBase64(Buffer.from(all).toString('base64')), all);
  });

  it('rejects characters outside the alphabet', () => {
    assert.throws(() => decodeBase64('AB$D'), /invalid base64/);
    assert.throws(() => decodeBase64('ABCDE'), /dangling/);
  });
});

describe('AnalysisModel', () => {
  const analysis = makeAnalysis(SMALL_SHAPE);
  const model = new AnalysisModel(analysis);

  it('groups sites by layer in the engine order', () => {
    assert.deepEqual(
      model.groups.map((g) => g.layer),
      [-1, 0, 1],
    );
    assert.deepEqual(model.sites.map(shortSiteLabel), ['emb', 'L0 attn', 'L0 attn out', 'L0 mlp', 'L1 attn', 'L1 attn out', 'L1 mlp']);
  });

  it('decodes rows whose active units agree with the engine counts (up to quantization at 0.5)', () => {
    for (let s = 0; s < model.sites.length; s++) {
      const m = model.matrix(s);
      assert.equal(m.data.length, model.tokenCount * model.sites[s]!.units);
      for (let t = 0; t < model.tokenCount; t++) {
        const row = m.row(t);
        let on = 0;
        let borderline = 0;
        for (const q of row) {
          if (q >= ACTIVE_Q) on++;
          if (q === 127 || q === 128) borderline++;
        }
        assert.ok(Math.abs(on - model.active(s)[t]!) <= borderline, `site ${s} token ${t}: ${on} vs ${model.active(s)[t]}`);
      }
    }
  });

  it('decodes lazily and caches', () => {
    const fresh = new AnalysisModel(analysis);
    assert.equal(fresh.isDecoded(3), false);
    const a = fresh.matrix(3);
    assert.equal(fresh.isDecoded(3), true);
    assert.equal(fresh.matrix(3), a);
  });

  it('rejects masks of the wrong size', () => {
    const site = analysis.sites[0]!;
    assert.throws(() => new SiteMatrix(site, 3, new Uint8Array(site.units * 3 - 1)), /expected 3 tokens/);
  });
});

describe('overlap, flips, unit search', () => {
  const site = { name: 's', layer: 0, kind: 'mlp' as const, units: 4 };
  it('counts shared and exclusive active units', () => {
    const a = Uint8Array.from([255, 200, 0, 127]);
    const b = Uint8Array.from([128, 0, 255, 10]);
    assert.deepEqual(overlap(a, b), { both: 1, onlyA: 1, onlyB: 1, jaccard: 1 / 3 });
    assert.equal(overlap(new Uint8Array(4), new Uint8Array(4)).jaccard, 1);
  });

  it('counts flipped mask bits per token and by direction', () => {
    const a = new SiteMatrix(site, 2, Uint8Array.from([255, 0, 255, 0, 0, 0, 0, 0]));
    const b = new SiteMatrix(site, 2, Uint8Array.from([255, 255, 0, 0, 0, 0, 0, 200]));
    const f = flips(a, b);
    assert.deepEqual([...f.perToken], [2, 1]);
    assert.equal(f.on, 2);
    assert.equal(f.off, 1);
  });

  it('lists the tokens that switch a unit on', () => {
    const m = new SiteMatrix(site, 3, Uint8Array.from([0, 200, 0, 0, 0, 0, 0, 0, 9, 128, 0, 0]));
    assert.deepEqual(tokensWithUnit(m, 1), [0, 2]);
    assert.deepEqual(tokensWithUnit(m, 9), []);
  });
});
