// The engine's side of liveness, on a real `ldlens serve`: `ping` is answered at once, also while
// a run trains; a header that puts the message stream out of step (a Content-Length shorter than
// its body) ends the engine with a message on stderr (after saving the run) instead of leaving it
// alive and deaf; a body that is merely not JSON does not.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import * as P from '@common/protocol';
import { cliPath, smallCorpus, tempDir, TINY_OVERRIDES } from './helpers';

const dir = tempDir('ldlens-live-');
after(() => rmSync(dir, { recursive: true, force: true }));
const corpus = smallCorpus(dir, 20_000);

function serve() {
  const child = spawn(process.execPath, [cliPath, 'serve'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.on('error', () => {});
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  conn.onError(() => {});
  conn.listen();
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, conn, exited, stderr: () => stderr };
}

const frame = (body: string, length = Buffer.byteLength(body)) => `Content-Length: ${length}\r\n\r\n${body}`;

test('ping is answered, also while a run trains; a short Content-Length ends the engine cleanly after saving the run', { timeout: 90_000 }, async () => {
  const s = serve();
  try {
    await s.conn.sendRequest(P.Initialize, {});
    assert.deepEqual(await s.conn.sendRequest(P.Ping), { pid: s.child.pid });
    const started = await s.conn.sendRequest(P.TrainStart, { data: [corpus], runsDir: join(dir, 'runs'), overrides: { ...TINY_OVERRIDES, train: { ...TINY_OVERRIDES.train, steps: 100000 } } });
    const t0 = Date.now();
    assert.deepEqual(await s.conn.sendRequest(P.Ping), { pid: s.child.pid });
    assert.ok(Date.now() - t0 < 10_000);
    // Garbage with a right length: the stream stays in step and the engine answers.
    s.child.stdin.write(frame('{not json'));
    assert.deepEqual(await s.conn.sendRequest(P.Ping), { pid: s.child.pid });
    // A Content-Length 10 bytes short: the tail of the body is read as the next header.
    const body = JSON.stringify({ jsonrpc: '2.0', id: 'short', method: 'ping' });
    s.child.stdin.write(frame(body, Buffer.byteLength(body) - 10));
    s.child.stdin.write(frame(JSON.stringify({ jsonrpc: '2.0', id: 'next', method: 'ping' })));
    const code = await Promise.race([s.exited, new Promise((r) => setTimeout(() => r('still running'), 30_000))]);
    assert.equal(code, 3, `exit status; stderr:\n${s.stderr()}`);
    assert.match(s.stderr(), /^ldlens serve: the message stream is out of step \(.+\); exiting$/m);
    const meta = JSON.parse(readFileSync(join(started.runDir, 'run.json'), 'utf8'));
    assert.equal(meta.status, 'stopped', 'the run was stopped and saved before leaving');
  } finally {
    s.conn.dispose();
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  }
});
