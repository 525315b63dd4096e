/**
 * ExternalGarbage (platform/external-garbage.ts): asks V8 for a major collection only when the
 * external memory is worth it, not while one runs, not more often than its interval, only after a
 * quiet time with nothing queued; and with
 * a real V8 (--expose-gc) it gives back buffers whose holders were promoted before they died.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ExternalGarbage, type CollectedEvent } from '../../src/platform/external-garbage.js';
import { NODE_FLAGS } from '../helpers/hotvec.js';

const MiB = 2 ** 20;

test('without --expose-gc it does nothing', () => {
  const g = new ExternalGarbage({ gc: undefined, externalBytes: () => 1e12 });
  assert.equal(g.available, false);
  assert.equal(g.collectIfWorthIt(), undefined);
});

test('asks only above the threshold and twice what the last collection left, one at a time, at most once per interval', async () => {
  let external = 10 * MiB;
  let now = 0;
  let calls = 0;
  const events: CollectedEvent[] = [];
  const g = new ExternalGarbage({
    minBytes: 64 * MiB,
    minIntervalMs: 10_000,
    gc: () => {
      calls++;
      external = 70 * MiB; // what the collection left: live buffers
    },
    externalBytes: () => external,
    now: () => now,
    onCollected: (e) => events.push(e),
  });
  assert.equal(g.available, true);
  assert.equal(g.collectIfWorthIt(), undefined, 'below the threshold');
  external = 200 * MiB;
  const first = g.collectIfWorthIt();
  assert.ok(first, 'above it');
  assert.equal(calls, 0, 'not inside the caller');
  now = 5_000;
  assert.equal(g.collectIfWorthIt(), undefined, 'not while one is due');
  await first;
  assert.equal(calls, 1);
  assert.deepEqual(
    events.map((e) => [e.externalBytesBefore, e.externalBytesAfter]),
    [[200 * MiB, 70 * MiB]],
    'told what it gave back',
  );
  assert.equal(g.collectIfWorthIt(), undefined, 'not under twice what the last one left (140 MiB)');
  external = 150 * MiB;
  now = 8_000;
  assert.equal(g.collectIfWorthIt(), undefined, 'within the interval');
  now = 10_000;
  const second = g.collectIfWorthIt();
  assert.ok(second, 'after the interval, over twice the floor');
  await second;
  assert.equal(calls, 2);
});

test('a collection that throws does not stop the next one', async () => {
  let now = 0;
  let fail = true;
  const g = new ExternalGarbage({
    minBytes: 1,
    minIntervalMs: 10,
    gc: () => {
      if (fail) throw new Error('no');
    },
    externalBytes: () => 100,
    now: () => now,
  });
  await g.collectIfWorthIt();
  fail = false;
  now = 20;
  assert.ok(g.collectIfWorthIt());
});

test('afterQuiet collects once activity has stopped for quietMs, only if still quiet then', async () => {
  let calls = 0;
  // A hand-driven timer: `fire` is the quiet time running out.
  const pending = new Map<number, { fn: () => void; ms: number }>();
  let next = 0;
  const timer = {
    set: (fn: () => void, ms: number) => {
      pending.set(++next, { fn, ms });
      return next;
    },
    clear: (handle: unknown) => void pending.delete(handle as number),
  };
  const fire = async (): Promise<void> => {
    const due = [...pending.values()];
    pending.clear();
    for (const t of due) t.fn();
    await new Promise((r) => setImmediate(r)); // the collection runs on the next turn
  };
  const g = new ExternalGarbage({ minBytes: 1, minIntervalMs: 0, quietMs: 1000, gc: () => void calls++, externalBytes: () => 100, timer });
  let quiet = true;
  // Steady activity: each call moves the one timer on.
  for (let i = 0; i < 5; i++) g.afterQuiet(() => quiet);
  assert.equal(pending.size, 1, 'one timer, reset by each activity');
  assert.equal([...pending.values()][0]!.ms, 1000);
  assert.equal(calls, 0, 'not during activity');
  await fire();
  assert.equal(calls, 1, 'once the quiet time ran out');
  quiet = false;
  g.afterQuiet(() => quiet);
  await fire();
  assert.equal(calls, 1, 'not when something is queued at the end of the quiet time');
  quiet = true;
  g.afterQuiet(() => quiet);
  g.close();
  assert.equal(pending.size, 0, 'close forgets it');
  g.afterQuiet(() => quiet);
  assert.equal(pending.size, 0, 'and takes no more');
  assert.equal(calls, 1);
});

test('a quiet time that ends too soon after the last collection looks again once the interval is over', async () => {
  let calls = 0;
  let now = 0;
  const pending: { fn: () => void; ms: number }[] = [];
  const timer = { set: (fn: () => void, ms: number) => pending.push({ fn, ms }), clear: () => {} };
  let external = 100;
  const g = new ExternalGarbage({ minBytes: 1, minIntervalMs: 10_000, quietMs: 1000, gc: () => void calls++, externalBytes: () => external, now: () => now, timer });
  await g.collectIfWorthIt(); // at 0; leaves 100
  assert.equal(calls, 1);
  external = 500; // a second load's garbage
  now = 3000;
  g.afterQuiet(() => true);
  now = 4000;
  pending.shift()!.fn(); // the quiet time ends at 4 s: 6 s before the interval is over
  assert.equal(calls, 1);
  assert.equal(pending.length, 1, 'armed again');
  assert.equal(pending[0]!.ms, 6000);
  now = 10_000;
  pending.shift()!.fn();
  await new Promise((r) => setImmediate(r));
  assert.equal(calls, 2, 'collected once the interval was over');
});

test('with V8 (--expose-gc): buffers whose holders died old are given back', async () => {
  // Holders promoted by two minor collections, then dropped: only a major collection frees them.
  const script = `
    import { getHeapStatistics } from 'node:v8';
    import { ExternalGarbage } from ${JSON.stringify(new URL('../../src/platform/external-garbage.js', import.meta.url).href)};
    let held = Array.from({ length: 100 }, () => Buffer.alloc(1_500_000, 1));
    await gc({ type: 'minor', execution: 'async' });
    await gc({ type: 'minor', execution: 'async' });
    held = null;
    const before = getHeapStatistics().external_memory;
    const asked = new ExternalGarbage({ minBytes: 64 * 2 ** 20 }).collectIfWorthIt();
    await asked;
    console.log(JSON.stringify({ asked: asked !== undefined, before, after: getHeapStatistics().external_memory }));
  `;
  // With the flags `npm start` runs hotvec with (--expose-gc among them).
  const { stdout } = await promisify(execFile)(process.execPath, [...NODE_FLAGS, '--input-type=module', '-e', script]);
  const r = JSON.parse(stdout) as { asked: boolean; before: number; after: number };
  assert.ok(r.before > 140 * MiB, `the buffers were there: ${r.before}`);
  assert.equal(r.asked, true);
  assert.ok(r.after < 20 * MiB, `given back: ${(r.after / MiB).toFixed(1)} MiB left of ${(r.before / MiB).toFixed(1)}`);
});
