// The explorer's keys (keyboard.ts) on a stand-in selection: moves stay inside the text, Enter
// and P act on the selected token only, other keys are left to the page.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { handleTokenKey, type KeyTarget } from '../src/explorer/keyboard';

function target(tokenCount: number, selected: number | null) {
  const calls: string[] = [];
  const t: KeyTarget = {
    tokenCount,
    selected,
    selectAndScroll: (token) => void calls.push(`select ${token}`),
    reveal: (token) => void calls.push(`reveal ${token}`),
    pin: (token) => void calls.push(`pin ${token}`),
  };
  return { t, calls };
}

function press(key: string, tokenCount: number, selected: number | null): { calls: string[]; prevented: boolean } {
  const { t, calls } = target(tokenCount, selected);
  let prevented = false;
  handleTokenKey({ key, preventDefault: () => void (prevented = true) } as KeyboardEvent, t);
  return { calls, prevented };
}

describe('token keys', () => {
  it('move the selection, kept inside the text, and keep the page from scrolling', () => {
    assert.deepEqual(press('ArrowRight', 10, 4), { calls: ['select 5'], prevented: true });
    assert.deepEqual(press('ArrowRight', 10, null), { calls: ['select 0'], prevented: true });
    assert.deepEqual(press('ArrowRight', 10, 9), { calls: ['select 9'], prevented: true });
    assert.deepEqual(press('ArrowLeft', 10, 0), { calls: ['select 0'], prevented: true });
    assert.deepEqual(press('ArrowLeft', 10, null), { calls: ['select 0'], prevented: true });
    assert.deepEqual(press('Home', 10, 6), { calls: ['select 0'], prevented: true });
    assert.deepEqual(press('End', 10, null), { calls: ['select 9'], prevented: true });
  });

  it('Enter reveals and P pins the selected token; with none selected they do nothing', () => {
    assert.deepEqual(press('Enter', 10, 3), { calls: ['reveal 3'], prevented: false });
    assert.deepEqual(press('p', 10, 3), { calls: ['pin 3'], prevented: false });
    assert.deepEqual(press('P', 10, 0), { calls: ['pin 0'], prevented: false });
    assert.deepEqual(press('Enter', 10, null), { calls: [], prevented: false });
    assert.deepEqual(press('p', 10, null), { calls: [], prevented: false });
  });

  it('other keys, and any key with no text shown, are left alone', () => {
    assert.deepEqual(press('x', 10, 3), { calls: [], prevented: false });
    assert.deepEqual(press('toString', 10, 3), { calls: [], prevented: false });
    assert.deepEqual(press('ArrowRight', 0, null), { calls: [], prevented: false });
  });
});
