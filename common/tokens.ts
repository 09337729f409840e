// How a token's text is shown on its own (hover, Mask Explorer chips and tables): whitespace as
// visible symbols, so that " ", "\n" and "" stay distinguishable.
export function displayToken(text: string): string {
  return text.replace(/ /g, '␣').replace(/\n/g, '⏎').replace(/\t/g, '⇥').replace(/\r/g, '␍') || '∅';
}
