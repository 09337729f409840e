import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { levelFill, paintLevelRects, StripRects } from '../src/explorer/stripPaint';

/** Records fill() calls: the colour and the rectangles of each. */
function recorder(): { ctx: Parameters<typeof paintLevelRects>[0]; fills: { style: string; rects: number[][] }[] } {
  const fills: { style: string; rects: number[][] }[] = [];
  let path: number[][] = [];
  const ctx = {
    fillStyle: '' as unknown,
    beginPath: () => {
      path = [];
    },
    rect: (x: number, y: number, w: number, h: number) => path.push([x, y, w, h]),
    fill: () => fills.push({ style: String(ctx.fillStyle), rects: path }),
  };
  return { ctx, fills };
}

describe('token strip canvas', () => {
  const fills = { normal: levelFill('rgb(10, 20, 30)', 16, 1), dim: levelFill('rgb(10, 20, 30)', 16, 0.25) };

  it('level colours match the legend classes (level × 5 % of the colour)', () => {
    assert.equal(fills.normal.length, 16);
    assert.equal(fills.normal[0], '');
    assert.equal(fills.normal[1], 'rgba(10, 20, 30, 0.05)');
    assert.equal(fills.normal[15], 'rgba(10, 20, 30, 0.75)');
    assert.equal(fills.dim[4], 'rgba(10, 20, 30, 0.05)');
  });

  it('paints every token rectangle in its level colour, one fill per colour, skipping level 0', () => {
    const rects = new StripRects(300, 40);
    rects.add(0, 0, 0, 10, 20);
    rects.add(1, 10, 0, 30, 20);
    // Token 2 wraps: two rectangles.
    rects.add(2, 280, 0, 20, 20);
    rects.add(2, 0, 20, 15, 20);
    rects.add(3, 15, 20, 5, 20);
    rects.add(4, 20, 20, 0, 20); // empty: ignored
    const { ctx, fills: out } = recorder();
    const painted = paintLevelRects(ctx, rects, Uint8Array.from([0, 3, 15, 3, 9]), null, fills);
    assert.equal(painted, 4);
    assert.deepEqual(
      out.map((f) => [f.style, f.rects]),
      [
        [fills.normal[3], [[10, 0, 30, 20], [15, 20, 5, 20]]],
        [fills.normal[15], [[280, 0, 20, 20], [0, 20, 15, 20]]],
      ],
    );
  });

  it('paints dimmed tokens in the dimmed colours', () => {
    const rects = new StripRects(100, 20);
    rects.add(0, 0, 0, 10, 20);
    rects.add(1, 10, 0, 10, 20);
    const { ctx, fills: out } = recorder();
    paintLevelRects(ctx, rects, Uint8Array.from([5, 5]), Uint8Array.from([0, 1]), fills);
    assert.deepEqual(
      out.map((f) => [f.style, f.rects.length]),
      [
        [fills.normal[5], 1],
        [fills.dim[5], 1],
      ],
    );
  });

  it('hit-tests points to tokens (wrapped tokens by either rectangle)', () => {
    const rects = new StripRects(300, 40);
    for (let i = 0; i < 200; i++) rects.add(i, (i * 10) % 300, Math.floor((i * 10) / 300) * 20, 10, 20);
    assert.equal(rects.length, 200);
    assert.equal(rects.tokenAt(5, 5), 0);
    assert.equal(rects.tokenAt(15, 25), 31);
    assert.equal(rects.tokenAt(299, 0), 29);
    assert.equal(rects.tokenAt(-1, 5), null);
    assert.equal(rects.tokenAt(5, 10_000), null);
  });
});

describe('strip colour levels', () => {
  it('spread the range of active counts over the levels (min: none, max: the strongest)', async () => {
    const { activeLevels, LEVELS } = await import('../src/explorer/tokenStrip');
    // Counts in a narrow band (as a trained model's are): from 0 they would all be strong.
    assert.deepEqual([...activeLevels([14, 15, 16, 17, 18], 18, 14)], [0, 4, 8, 11, 15]);
    assert.deepEqual([...activeLevels([14, 18], 18)], [12, 15], 'from 0 without a minimum');
    assert.deepEqual([...activeLevels([5, 5, 5], 5, 5)], [0, 0, 0], 'all equal: no colour');
    assert.equal(LEVELS, 16);
  });
});
