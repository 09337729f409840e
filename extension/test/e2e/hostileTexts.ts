// Real text is not ASCII (issue 14): a model trained on a corpus of combining marks, Indic
// conjuncts, emoji with skin tones, ZWJ sequences, flags, CJK, Hebrew and Arabic (so every one of
// those code points is a token), then (a) a small CRLF document of them, whose decorations must
// start and end on grapheme boundaries as the browser draws them, and (b) a 2 MB document of them
// scrolled to its end: the visible lines are painted (on whole graphemes) within a bound, then hovers
// in another editor keep answering while the rest is analyzed and its spans computed chunk by chunk,
// then the whole-document pass is cancelled (or has completed) cleanly.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Session, sleep, waitFor } from './driver';
import { type Scenario, trainFromPalette } from './scenarios';

const LINES = [
  'Cafe\u0301 nai\u0308ve a\u0308\u0304 z\u0334\u0321\u031b\u0354\u0318a\u0338\u0322\u0353l\u0337g\u0335o plain words',
  'മലയാളം ഭാഷ ക്ഷ സാഹിത്യം മലയാളം',
  'नमस्ते दुनिया क्षत्रिय हिन्दी',
  '👍🏽 👩‍💻 👨‍👩‍👧‍👦 🇫🇷🇩🇪 ❤️ 😀 👋🏿',
  '日本語の文章 中文 한국어 漢字',
  'עברית שלום עולם',
  'العربية مرحبا بالعالم',
];
const BIG = 'big-mixed.txt';
const BIG_CHARS = 2 * 1024 * 1024;
/**
 * The visible lines of the 2 MB document must be painted within this: the engine tokenizes 2 MB and
 * analyzes ~100 lines first (README: 8-29 s on the loaded 2-core build machine).
 */
const FIRST_PAINT_MS = 90_000;
/** A hover in another editor must answer within this while the rest of the 2 MB document is analyzed and painted. */
const HOVER_MS = 4_000;

/** Written before VS Code starts (Quick Open caches the file list). */
export function prepareHostileTexts(ws: string): void {
  // The corpus: every line many times, in a varying order, so that each code point is in the vocabulary.
  const corpus: string[] = [];
  for (let i = 0; corpus.join('\n').length < 12_000; i++) corpus.push(LINES[(i * 5) % LINES.length], LINES[(i * 3 + 1) % LINES.length]);
  writeFileSync(join(ws, 'scripts-corpus.txt'), corpus.join('\n') + '\n');
  writeFileSync(join(ws, 'mixed.txt'), LINES.join('\r\n') + '\r\n');
  // Mostly Malayalam and Devanagari: the scripts whose clusters cost the most to find.
  const heavy = [LINES[1], LINES[2], LINES[1], LINES[3], LINES[2], LINES[0], LINES[1], LINES[4], LINES[5], LINES[6]];
  const big: string[] = [];
  let n = 0;
  for (let i = 0; n < BIG_CHARS; i++) {
    const l = `${i} ${heavy[i % heavy.length]}`;
    big.push(l);
    n += l.length + 1;
  }
  writeFileSync(join(ws, BIG), big.join('\n') + '\n');
}

interface GraphemeCheck {
  /** Decoration rectangles looked at. */
  rects: number;
  /** Their edges that fall inside a grapheme (as drawn): none expected. */
  inside: string[];
  /** Per line with text: the share of its width that is painted. */
  coverage: { text: string; painted: number }[];
}

/**
 * In an editor group: each heatmap decoration's left and right edge must be within a pixel of a
 * grapheme boundary as the browser draws the text (a span cut between a base and its vowel sign,
 * or inside a ZWJ sequence, would end inside one), measured with Intl.Segmenter and DOM ranges.
 */
function checkGraphemes(s: Session, group: string): Promise<GraphemeCheck> {
  return s.page.evaluate((g) => {
    const ed = document.querySelector(`${g} .monaco-editor`);
    if (!ed) return { rects: 0, inside: ['no editor'], coverage: [] };
    const seg = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
    const lineByTop = new Map<string, HTMLElement>();
    for (const l of Array.from(ed.querySelectorAll<HTMLElement>('.view-lines > .view-line'))) lineByTop.set(l.style.top, l);
    let rects = 0;
    const inside: string[] = [];
    const coverage: { text: string; painted: number }[] = [];
    for (const overlay of Array.from(ed.querySelectorAll<HTMLElement>('.view-overlays > div'))) {
      const decos = Array.from(overlay.querySelectorAll<HTMLElement>('div[class*="ced-"]')).map((d) => d.getBoundingClientRect()).filter((r) => r.width > 0);
      const line = lineByTop.get(overlay.style.top);
      if (!decos.length || !line) continue;
      // The line's text nodes, and the x of every grapheme boundary in them.
      const nodes: Text[] = [];
      const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
      for (let t = walker.nextNode(); t; t = walker.nextNode()) nodes.push(t as Text);
      const xs: number[] = [];
      let left = Infinity, right = -Infinity;
      for (const t of nodes) {
        const text = t.data;
        for (const { index, segment } of seg.segment(text)) {
          const r = document.createRange();
          r.setStart(t, index);
          r.setEnd(t, index + segment.length);
          for (const b of Array.from(r.getClientRects())) {
            xs.push(b.left, b.right);
            left = Math.min(left, b.left);
            right = Math.max(right, b.right);
          }
        }
      }
      const text = nodes.map((t) => t.data).join('');
      let painted = 0;
      for (const d of decos) {
        rects++;
        painted += Math.min(d.right, right) - Math.max(d.left, left);
        for (const [name, x] of [['left', d.left], ['right', d.right]] as const) {
          // A range that goes on past the line's end is drawn a little beyond its last character.
          if (x >= right - 1 || x <= left + 1) continue;
          if (!xs.some((b) => Math.abs(b - x) <= 1)) {
            // The grapheme the edge falls in, for the message.
            let at = '';
            for (const t of nodes) {
              for (const { index, segment } of seg.segment(t.data)) {
                const r = document.createRange();
                r.setStart(t, index);
                r.setEnd(t, index + segment.length);
                const b = r.getBoundingClientRect();
                if (b.left < x && x < b.right) at = segment;
              }
            }
            inside.push(`${name} edge at x=${x.toFixed(1)} inside "${at}" of line "${text.slice(0, 40)}"`);
          }
        }
      }
      if (right > left) coverage.push({ text: text.slice(0, 30), painted: painted / (right - left) });
    }
    return { rects, inside, coverage };
  }, group);
}

/** Ms from the mouse reaching a painted token (at `p`, or `text` in the editor group `group`) to its hover being shown. */
async function hoverLatency(s: Session, group: string, text: string, offset: number, p?: { x: number; y: number }): Promise<number> {
  const shown = s.page.locator('.monaco-hover:not(.hidden)');
  await s.page.mouse.move(5, 5);
  // allInnerTexts does not wait for a hover to exist (innerText would, up to Playwright's 30 s).
  await waitFor('the previous hover gone', async () => !(await shown.allInnerTexts()).join(' ').includes('token'), 10_000, 50);
  p ??= await s.textPoint(text, 0, offset, group);
  const t0 = Date.now();
  await s.page.mouse.move(p.x, p.y, { steps: 2 });
  await waitFor(`a hover over "${text}"`, async () => (await shown.allInnerTexts()).join(' ').includes('token'), 30_000, 50);
  return Date.now() - t0;
}

export const HOSTILE_TEXTS: Scenario[] = [
  {
    name: 'hostile texts: combining marks, emoji, ZWJ, CJK and RTL painted as whole graphemes; a 2 MB document painted visible-first while hovers answer',
    async run(s, { log }) {
      // A runs folder of its own: this model's vocabulary is these scripts, the others' Shakespeare.
      s.writeUserSettings({ 'ldlens.runsDir': '.ldlens/scripts-runs' });
      try {
        await sleep(1500); // VS Code picks up the settings file
        await s.clearNotifications();
        await s.openFile('scripts-corpus.txt', 'plain words');
        const tTrain = Date.now();
        await trainFromPalette(s, 'e2e-scripts', 'scripts-corpus.txt');
        const done = await s.notification(/Training e2e-scripts finished: 100 steps/, 300_000);
        log(`  ${done} (${((Date.now() - tTrain) / 1000).toFixed(0)} s)`);
        await s.clearNotifications();
        await s.palette('View: Close All Editors');

        // (a) The small document: every decoration edge on a grapheme boundary; every line painted.
        await s.openFile('mixed.txt', 'plain words');
        await s.palette('LearnedDropout: Analyze Document');
        await waitFor('mixed.txt painted', async () => (await s.decorationColours()).length >= LINES.length, 60_000);
        await sleep(500);
        const small = await checkGraphemes(s, '.editor-group-container.active');
        log(`  mixed.txt: ${small.rects} decoration rectangles; painted share per line: ${small.coverage.map((c) => `${c.text.slice(0, 8)} ${(100 * c.painted).toFixed(0)}%`).join(', ')}`);
        await s.screenshot('hostile-mixed-scripts');
        assert.deepEqual(small.inside, [], 'no decoration edge falls inside a grapheme');
        assert.ok(small.coverage.length >= LINES.length, `every line is painted (${small.coverage.length} of ${LINES.length})`);
        for (const c of small.coverage) assert.ok(c.painted > 0.8, `"${c.text}" is painted (${(100 * c.painted).toFixed(0)}% of its width)`);
        // The two tokens hovered in (b), hovered once here: their masks are then kept in the
        // extension, so those hovers measure the extension host alone, not an engine busy with 2 MB.
        for (const w of ['plain', 'words']) assert.ok((await hoverLatency(s, '.editor-group-container.active', w, 1)) < 30_000);

        // (b) The 2 MB document beside it, scrolled to its end (before issue 14 the visible paint
        // found the clusters of everything above the visible lines, the full paint of all of it).
        await s.page.mouse.move(5, 5);
        await s.page.keyboard.press('Control+Backslash'); // View: Split Editor (to the right)
        await waitFor('two editor groups', async () => (await s.page.locator('.editor-group-container').count()) === 2, 10_000);
        await s.openFile(BIG, 'മലയാളം');
        await s.page.keyboard.press('Control+End');
        await sleep(1000);
        const logBefore = s.extensionLog().length;
        const newLog = () => s.extensionLog().slice(logBefore);
        const left = '.editor-group-container:not(.active)';
        const points = [await s.textPoint('words', 0, 1, left), await s.textPoint('plain', 0, 1, left)];
        const t0 = Date.now();
        await s.palette('LearnedDropout: Analyze Document');
        // Hovers over mixed.txt (the other group) all along; those started after the visible paint
        // must each answer within HOVER_MS.
        let paintedAt = Infinity; // ms after the command
        const latencies: number[] = []; // hovers started after the visible paint
        const probeLog: string[] = [];
        let probing = true;
        const probes = (async () => {
          for (let k = 0; probing; k++) {
            const start = Date.now() - t0;
            const ms = await hoverLatency(s, left, '', 0, points[k % 2]).catch((e: Error) => {
              probeLog.push(`probe ${k}: ${e.message}`);
              return Infinity;
            });
            if (start > paintedAt) latencies.push(ms);
            probeLog.push(`${(start / 1000).toFixed(1)} s: ${ms} ms`);
          }
        })();
        try {
          const firstMs = await waitFor('the visible lines of the 2 MB document painted', async () => ((await s.decorationColours()).length > 20 ? Date.now() - t0 : undefined), FIRST_PAINT_MS, 100).catch((e: Error) => {
            throw new Error(`${e.message}; the extension's log since the command:\n${newLog().slice(-3000)}`);
          });
          paintedAt = firstMs;
          log(`  ${BIG}: visible lines painted ${firstMs} ms after the command`);
          const vis = /analyzed big-mixed\.txt lines (\d+)–(\d+) first \(the visible range\): (\d+) tokens in (\d+) ms/.exec(newLog());
          assert.ok(vis, `the visible range was analyzed first\n${newLog()}`);
          log(`  ${vis[0]}`);
          const big = await checkGraphemes(s, '.editor-group-container.active');
          log(`  ${BIG} visible lines: ${big.rects} decoration rectangles`);
          assert.deepEqual(big.inside, [], 'no decoration edge falls inside a grapheme (2 MB document)');
          await s.screenshot('hostile-2mb-visible-painted');
          // The rest is analyzed and its spans computed chunk by chunk: hovers keep answering.
          await sleep(20_000);
        } finally {
          probing = false;
          await probes;
        }
        const completed = /analyzed big-mixed\.txt: \d+ tokens[^\n]*/.exec(newLog())?.[0];
        if (completed) log(`  the whole document was done: ${completed}`);
        else {
          const toast = (await s.page.locator('.notifications-toasts .notification-toast').allInnerTexts()).join(' ').replace(/\s+/g, ' ');
          log(`  cancelling the whole-document pass: "${toast}"`);
          assert.match(toast, /Analyzing big-mixed\.txt/);
          await s.clickNotificationButton(/Analyzing big-mixed\.txt/, 'Cancel');
          await waitFor('the progress notification gone', async () => !(await s.page.locator('.notifications-toasts .notification-toast', { hasText: 'Analyzing big-mixed.txt' }).count()), 15_000, 100);
        }
        await sleep(1500);
        const toasts = (await s.page.locator('.notifications-toasts .notification-toast').allInnerTexts()).join(' | ');
        assert.doesNotMatch(toasts, /fail|error|disagree/i, 'no error shown');
        assert.doesNotMatch(newLog(), /\[error\]|failed|disagree/i, 'no error logged');
        assert.ok((await s.decorationColours()).length > 20, 'the visible lines stay painted');
        const sorted = [...latencies].sort((a, b) => a - b);
        log(`  ${latencies.length} hovers in the other editor after the visible paint: median ${sorted[sorted.length >> 1]} ms, max ${sorted[sorted.length - 1]} ms (all, by start time: ${probeLog.join('; ')})`);
        // Only hovers started after the visible paint are held to HOVER_MS: before it, one hover
        // has waited ~11 s while the engine opened the 2 MB analysis (not grapheme work; not yet
        // understood), logged above.
        assert.ok(latencies.length >= 10, 'hovers were tried all along');
        assert.ok(sorted[sorted.length - 1] < HOVER_MS, `every hover answered within ${HOVER_MS} ms (max ${sorted[sorted.length - 1]} ms)`);
        await s.screenshot('hostile-2mb-after');
        await s.palette('LearnedDropout: Clear Mask Heatmap'); // frees the kept analysis in the engine
      } finally {
        s.writeUserSettings();
        await s.palette('View: Close All Editors').catch(() => {});
        await s.palette('View: Single Column Editor Layout').catch(() => {});
      }
    },
  },
];
