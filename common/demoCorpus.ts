// The built-in demo corpus (the engine's `ldlens demo`, the extension's Try It on a Demo Corpus):
// generated here, so the product ships no third-party text. It mixes kinds of tokens that
// plausibly need different numbers of "experts": prose from a small grammar, arithmetic whose
// answers must be computed, code-like lines, and a log format with fixed fields.
import { Rng } from './rng';

const SUBJECTS = ['the model', 'a small network', 'every layer', 'the mask', 'this unit', 'the optimizer', 'a researcher', 'the heatmap', 'each token', 'the engine'];
const VERBS = ['learns', 'drops', 'keeps', 'measures', 'predicts', 'paints', 'counts', 'chooses', 'follows', 'explains'];
const OBJECTS = ['the next character', 'a few experts', 'most of its units', 'the loss', 'a quiet pattern', 'the attention', 'every digit', 'the long words', 'a clean signal', 'what matters'];
const ENDINGS = ['.', '.', '.', '!', '?', ', and then it rests.', ' when the text is hard.', ' before the end of the line.'];
const NAMES = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'sigma', 'kappa', 'theta'];

function pick<T>(rng: Rng, xs: T[]): T {
  return xs[rng.int(xs.length)];
}

function sentence(rng: Rng): string {
  const s = `${pick(rng, SUBJECTS)} ${pick(rng, VERBS)} ${pick(rng, OBJECTS)}${pick(rng, ENDINGS)}`;
  return s[0].toUpperCase() + s.slice(1);
}

function arithmetic(rng: Rng): string {
  const a = rng.int(100), b = rng.int(100);
  switch (rng.int(3)) {
    case 0:
      return `${a} + ${b} = ${a + b}`;
    case 1:
      return `${Math.max(a, b)} - ${Math.min(a, b)} = ${Math.abs(a - b)}`;
    default:
      return `${a % 13} * ${b % 13} = ${(a % 13) * (b % 13)}`;
  }
}

function code(rng: Rng): string {
  const n = pick(rng, NAMES), m = pick(rng, NAMES), k = rng.int(50);
  switch (rng.int(4)) {
    case 0:
      return `let ${n} = ${m} + ${k};`;
    case 1:
      return `if (${n} > ${k}) { ${m} = ${n}; }`;
    case 2:
      return `for (let i = 0; i < ${k}; i++) ${n}[i] = ${m}[i] * 2;`;
    default:
      return `function ${n}(${m}) { return ${m} * ${k}; }`;
  }
}

function logLine(rng: Rng, step: number): string {
  const loss = (3.5 * Math.exp(-step / 400) + 1.2 + rng.next() * 0.05).toFixed(3);
  return `step ${String(step).padStart(4, '0')} | loss ${loss} | active ${8 + rng.int(56)}/64`;
}

/** About `chars` characters of demo text, the same for the same seed. */
export function demoCorpus(chars = 120_000, seed = 7): string {
  const rng = new Rng(seed);
  const lines: string[] = ['# LearnedDropout Lens demo corpus', ''];
  let size = 0, step = 0;
  while (size < chars) {
    let para: string[];
    switch (rng.int(4)) {
      case 0:
        para = Array.from({ length: 2 + rng.int(4) }, () => sentence(rng));
        para = [para.join(' ')];
        break;
      case 1:
        para = Array.from({ length: 3 + rng.int(5) }, () => arithmetic(rng));
        break;
      case 2:
        para = Array.from({ length: 2 + rng.int(4) }, () => code(rng));
        break;
      default:
        para = Array.from({ length: 2 + rng.int(3) }, () => logLine(rng, (step += 10)));
    }
    const block = para.join('\n') + '\n';
    lines.push(block);
    size += block.length + 1;
  }
  return lines.join('\n');
}

/** A short text with every kind of line, for analysis in the demo and the docs. */
export const DEMO_PROBE = 'The model learns a few experts.\n17 + 25 = 42\nlet alpha = beta + 7;\nstep 0420 | loss 1.873 | active 31/64\n';
