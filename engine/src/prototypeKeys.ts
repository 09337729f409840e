// Keys that name Object.prototype's members (`__proto__`, `constructor`, `toString`,
// `hasOwnProperty`, …): in a config or checkpoint file they are never data, and code that merges
// or looks up such keys (`o[k] ??= {}`, `k in o`) reaches the prototype instead, so a file handed
// to the user could change how every object behaves. Files holding them are refused.
const PROTOTYPE_KEYS = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

export function isPrototypeKey(k: string): boolean {
  return PROTOTYPE_KEYS.has(k);
}

/** Paths (`model.__proto__`, `a[2].constructor`) of every prototype key in a parsed JSON value. */
export function prototypeKeyPaths(v: unknown, path = ''): string[] {
  const out: string[] = [];
  const walk = (x: unknown, p: string, depth: number) => {
    if (typeof x !== 'object' || x === null || depth > 64) return;
    if (Array.isArray(x)) {
      x.forEach((y, i) => walk(y, `${p}[${i}]`, depth + 1));
      return;
    }
    for (const k of Object.keys(x)) {
      const kp = p ? `${p}.${k}` : k;
      if (isPrototypeKey(k)) out.push(kp);
      else walk((x as Record<string, unknown>)[k], kp, depth + 1);
    }
  };
  walk(v, path, 0);
  return out;
}

/** A sentence naming the prototype keys of a file, or null when it has none. */
export function prototypeKeyProblem(v: unknown, what: string): string | null {
  const keys = prototypeKeyPaths(v);
  if (!keys.length) return null;
  return `${what}: ${keys.slice(0, 5).map((k) => JSON.stringify(k)).join(', ')}${keys.length > 5 ? ` (and ${keys.length - 5} more)` : ''} ${keys.length === 1 ? 'is a' : 'are'} reserved JavaScript name${keys.length === 1 ? '' : 's'}, not allowed as ${keys.length === 1 ? 'a key' : 'keys'}; the file was not used`;
}
