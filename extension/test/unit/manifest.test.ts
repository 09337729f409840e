// package.json's extension fields are generated from extension/scripts/manifest.ts; this keeps
// them in sync and checks what the UX guidelines ask of commands and settings.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { COMMANDS, manifestFields } from '../../scripts/manifest';

const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8'));
const src = (f: string) => readFileSync(join(__dirname, '../../src', f), 'utf8');

describe('extension manifest', () => {
  it('matches extension/scripts/manifest.ts (run `npx tsx extension/scripts/manifest.ts --write`)', () => {
    const want = manifestFields();
    for (const [k, v] of Object.entries(want)) assert.deepEqual(pkg[k], v, k);
  });

  it('puts every command in the LearnedDropout category, and registers each one', () => {
    const registered = new Set([...src('commands/index.ts').matchAll(/reg\('(ldlens\.[\w.]+)'/g)].map((m) => m[1]));
    for (const c of pkg.contributes.commands) {
      assert.equal(c.category, 'LearnedDropout');
      assert.ok(registered.has(c.command), `${c.command} is registered`);
    }
    assert.equal(registered.size, COMMANDS.length);
  });

  it('keeps every setting under ldlens.* with a description', () => {
    for (const [k, v] of Object.entries(pkg.contributes.configuration.properties as Record<string, { description?: string; markdownDescription?: string }>)) {
      assert.match(k, /^ldlens\./);
      assert.ok(v.description || v.markdownDescription, k);
    }
  });

  it('ships the icons it points at', () => {
    for (const p of [pkg.icon, ...pkg.contributes.viewsContainers.activitybar.map((c: { icon: string }) => c.icon)]) assert.ok(readFileSync(join(__dirname, '../../..', p)).length > 0, p);
  });
});
