import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LEVELS, blockChar, contributedColors, domainOf, legendRamp, levelOf, scaleColor, themeDefault } from '../../src/heatmap/colors';

/** WCAG relative luminance of #rrggbb. */
function luminance(hex: string): number {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}
/** Colour of #rrggbbaa blended over an opaque background #rrggbb. */
function over(fg: string, bg: string): string {
  const a = parseInt(fg.slice(7, 9), 16) / 255;
  const ch = (i: number) => Math.round(parseInt(fg.slice(i, i + 2), 16) * a + parseInt(bg.slice(i, i + 2), 16) * (1 - a));
  return '#' + [1, 3, 5].map((i) => ch(i).toString(16).padStart(2, '0')).join('');
}
function contrast(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

describe('colour scales', () => {
  it('maps values to levels over a domain, clamping outside it', () => {
    assert.equal(levelOf(0, 0, 64), 0);
    assert.equal(levelOf(64, 0, 64), LEVELS - 1);
    assert.equal(levelOf(32, 0, 64), 4);
    assert.equal(levelOf(-5, 0, 64), 0);
    assert.equal(levelOf(500, 0, 64), LEVELS - 1);
    assert.equal(levelOf(3, 3, 3), LEVELS >> 1, 'a flat domain paints the middle level');
    assert.equal(levelOf(NaN, 0, 1), 0);
  });

  it('computes a domain ignoring NaN', () => {
    assert.deepEqual(domainOf([3, NaN, 1, 7]), [1, 7]);
    assert.deepEqual(domainOf([]), [0, 0]);
  });

  it('builds #rrggbbaa colours with the opacity as alpha, endpoints on the scale', () => {
    assert.equal(scaleColor('viridis', 0, 1), '#440154ff');
    assert.equal(scaleColor('viridis', LEVELS - 1, 0.5), '#fde72580');
    assert.match(scaleColor('magma', 3, 0.6), /^#[0-9a-f]{8}$/);
  });

  it('keeps editor text readable over every theme default (contrast ≥ 4.5 : 1)', () => {
    const themes = [
      { kind: 'dark', bg: '#1e1e1e', fg: '#d4d4d4' },
      { kind: 'light', bg: '#ffffff', fg: '#000000' },
      { kind: 'highContrast', bg: '#000000', fg: '#ffffff' },
      { kind: 'highContrastLight', bg: '#ffffff', fg: '#292929' },
    ] as const;
    for (const t of themes) {
      for (let l = 0; l < LEVELS; l++) {
        const bg = over(themeDefault(t.kind, l), t.bg);
        assert.ok(contrast(bg, t.fg) >= 4.5, `${t.kind} level ${l}: ${bg} vs ${t.fg} = ${contrast(bg, t.fg).toFixed(2)}`);
      }
    }
  });

  it('orders each theme ramp from low to high visibly (adjacent levels differ)', () => {
    for (const kind of ['dark', 'light', 'highContrast', 'highContrastLight'] as const) {
      const cols = Array.from({ length: LEVELS }, (_, l) => themeDefault(kind, l));
      assert.equal(new Set(cols).size, LEVELS, kind);
    }
  });

  it('matches the colours contributed in package.json', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8'));
    const contributed = (pkg.contributes?.colors ?? []).filter((c: { id: string }) => c.id.startsWith('ldlens.heatmap.level'));
    assert.deepEqual(contributed, contributedColors());
  });

  it('draws block characters and a legend ramp', () => {
    assert.equal(blockChar(0), '▁');
    assert.equal(blockChar(1), '█');
    assert.equal(legendRamp().length, LEVELS);
  });
});
