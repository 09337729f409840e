// Analysis throughput of a document vs the plain forward pass over the same windows (see
// benchAnalysisThroughput). npm run bench runs it; alone:
//   node --import tsx engine/bench/analysis.bench.ts --checkpoint RUN_OR_CKPT --data FILE [--chars 20000] [--rounds 3]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend';
import { benchAnalysisThroughput } from '../src/bench';
import { loadCheckpoint } from '../src/checkpoint';
import { GPT } from '../src/model';

const { values: o } = parseArgs({ options: { checkpoint: { type: 'string' }, data: { type: 'string' }, chars: { type: 'string' }, rounds: { type: 'string' } } });
if (!o.checkpoint || !o.data) {
  console.error('usage: analysis.bench.ts --checkpoint DIR --data FILE [--chars 20000] [--rounds 3]');
  process.exit(2);
}
void (async () => {
  const { backend } = await initBackend('auto');
  const ck = loadCheckpoint(o.checkpoint!);
  const im = { model: GPT.fromWeights(ck.shape, ck.config.dropout, ck.weights), tokenizer: ck.tokenizer, checkpoint: { runDir: ck.runDir, dir: ck.dir, step: ck.step } };
  const corpus = readFileSync(o.data!, 'utf8');
  const chars = Number(o.chars ?? 20000);
  const start = Math.floor(corpus.length / 3);
  const r = await benchAnalysisThroughput(im, corpus.slice(start, start + chars), Number(o.rounds ?? 3));
  console.log(JSON.stringify({ backend, ...r }));
})();
