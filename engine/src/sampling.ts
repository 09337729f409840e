// Sampling parameters, checked the same way for `ldlens sample` and the `sample` request, and the
// warning about prompt characters the model's vocabulary does not have (they are left out).
import type { Tokenizer } from './tokenizer';

export const MAX_SAMPLE_TOKENS = 10_000;

export interface SamplingParams {
  maxTokens: number;
  /** 0: greedy (always the most likely token). */
  temperature?: number;
  /** Only the k most likely tokens; undefined: no cut. */
  topK?: number;
  seed?: number;
}

export class SamplingError extends RangeError {
  constructor(readonly problems: string[]) {
    super(`invalid sampling parameters: ${problems.join('; ')}`);
    this.name = 'SamplingError';
  }
}

/** Every problem with the parameters (named as the request's fields), or [] when they are fine. */
export function samplingProblems(p: Partial<SamplingParams>, names: Partial<Record<keyof SamplingParams, string>> = {}): string[] {
  const n = (k: keyof SamplingParams) => names[k] ?? k;
  const problems: string[] = [];
  if (!Number.isInteger(p.maxTokens) || p.maxTokens! < 1 || p.maxTokens! > MAX_SAMPLE_TOKENS)
    problems.push(`${n('maxTokens')} must be an integer between 1 and ${MAX_SAMPLE_TOKENS}, got ${p.maxTokens}`);
  if (p.temperature !== undefined && !(Number.isFinite(p.temperature) && p.temperature >= 0))
    problems.push(`${n('temperature')} must be ≥ 0 (0 samples greedily), got ${p.temperature}`);
  if (p.topK !== undefined && !(Number.isInteger(p.topK) && p.topK >= 1))
    problems.push(`${n('topK')} must be an integer ≥ 1 (leave it out for no cut), got ${p.topK}`);
  if (p.seed !== undefined && !(Number.isInteger(p.seed) && p.seed >= 0 && p.seed <= 2 ** 32 - 1))
    problems.push(`${n('seed')} must be an integer in [0, ${2 ** 32 - 1}], got ${p.seed}`);
  return problems;
}

/** Throws SamplingError naming every problem. */
export function checkSampling(p: Partial<SamplingParams>, names?: Partial<Record<keyof SamplingParams, string>>): void {
  const problems = samplingProblems(p, names);
  if (problems.length) throw new SamplingError(problems);
}

/** A warning naming the prompt's characters outside the vocabulary, or null when it has none. */
export function promptWarning(tokenizer: Tokenizer, prompt: string): string | null {
  const enc = tokenizer.encode(prompt, 'skip');
  if (!enc.skipped) return null;
  let which = `${enc.skipped} unknown`;
  try {
    tokenizer.encode(prompt, 'error');
  } catch (e) {
    which = (e as Error).message.replace(/^the text has /, ''); // names the first few
  }
  return enc.ids.length
    ? `the prompt has ${which}; they are left out of what the model sees`
    : `no character of the prompt is in the model's vocabulary (${which}); sampling starts from token 0 as with an empty prompt`;
}
