// The keys of the token strip and the heatmap: they move the selection through the text or act on
// the selected token.

/** What the keys act on (the explorer's token selection). */
export interface KeyTarget {
  /** Tokens of the shown text (0 when none is shown: keys do nothing). */
  readonly tokenCount: number;
  readonly selected: number | null;
  selectAndScroll(token: number): void;
  reveal(token: number): void;
  pin(token: number): void;
}

type KeyAction =
  /** Selects the token it gives (kept inside the text) from the selected one (-1: none). */
  | { move(current: number, count: number): number }
  /** Acts on the selected token; nothing when none is. */
  | { act(target: KeyTarget, token: number): void };

const pin: KeyAction = { act: (target, token) => target.pin(token) };

export const KEY_BINDINGS: ReadonlyMap<string, KeyAction> = new Map<string, KeyAction>([
  ['ArrowRight', { move: (current) => current + 1 }],
  ['ArrowLeft', { move: (current) => current - 1 }],
  ['Home', { move: () => 0 }],
  ['End', { move: (_, count) => count - 1 }],
  ['Enter', { act: (target, token) => target.reveal(token) }],
  ['p', pin],
  ['P', pin],
]);

export function handleTokenKey(event: KeyboardEvent, target: KeyTarget): void {
  const count = target.tokenCount;
  const action = KEY_BINDINGS.get(event.key);
  if (!count || !action) return;
  const current = target.selected ?? -1;
  if ('move' in action) {
    // The page would scroll on these keys too.
    event.preventDefault();
    target.selectAndScroll(Math.max(0, Math.min(count - 1, action.move(current, count))));
  } else if (current >= 0) action.act(target, current);
}
