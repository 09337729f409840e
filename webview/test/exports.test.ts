import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCsv } from '../src/common/export';
import { decodeBase64 } from '@common/maskBytes';
import { AnalysisModel } from '../src/common/masks';
import { analysisJson, masksCsv } from '../src/explorer/exporter';
import { makeAnalysis, SMALL_SHAPE } from './fixtures';

describe('mask exports', () => {
  const analysis = makeAnalysis({ ...SMALL_SHAPE, tokens: 120 }, 'a, "quoted" b\nc'.repeat(10));
  const model = new AnalysisModel(analysis);

  it('CSV: one row per token, every quantized mask value recoverable exactly', () => {
    for (const site of [0, 1]) {
      const rows = parseCsv(masksCsv(model, site));
      const units = model.sites[site]!.units;
      assert.equal(rows.length, model.tokenCount + 1);
      assert.equal(rows[0]!.length, 7 + units);
      const m = model.matrix(site);
      for (let t = 0; t < model.tokenCount; t++) {
        const row = rows[t + 1]!;
        assert.equal(row[3], model.tokens[t]!.text, 'token text survives quoting');
        assert.equal(Number(row[5]), model.active(site)[t]);
        for (let u = 0; u < units; u++) assert.equal(Math.round(Number(row[7 + u]) * 255), m.q(t, u));
      }
    }
  });

  it('JSON: the analysis exactly as received', () => {
    const parsed = JSON.parse(analysisJson(model)) as { format: string; analysis: typeof analysis };
    assert.equal(parsed.format, 'ldlens.analysis');
    assert.deepEqual(parsed.analysis, analysis);
    assert.deepEqual(decodeBase64(parsed.analysis.layers[2]!.masks), model.matrix(2).data);
  });
});
