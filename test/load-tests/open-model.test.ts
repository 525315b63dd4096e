/**
 * The open-model schedule: intended times are evenly spaced and never early, the number of
 * requests is rate × duration, and the pacer really spreads them over the run rather than
 * sending them in bursts (counts are asserted, not the machine's timings).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClosedSchedule, OpenSchedule, startPacer } from '../../load-tests/lib/open-model.js';

test('intended times are start + i/rate, due only once their time has come', () => {
  const s = new OpenSchedule(100, 1000, 1000); // 100/s for 1 s from t=1000 ms
  assert.equal(s.total, 100);
  assert.equal(s.take(999), undefined, 'nothing is due before the start');
  assert.equal(s.take(1000), 1000);
  assert.equal(s.take(1000), undefined, 'the second request is due 10 ms later');
  assert.equal(s.backlog(1035), 3, 'due at 1010, 1020, 1030');
  assert.deepEqual([s.take(1035), s.take(1035), s.take(1035), s.take(1035)], [1010, 1020, 1030, undefined]);
  assert.equal(s.untilNext(1035), 5);
  // Far past the end: exactly the remaining 96, each never later than "now".
  const rest: number[] = [];
  for (let t = s.take(5000); t !== undefined; t = s.take(5000)) rest.push(t);
  assert.equal(rest.length, 96);
  assert.equal(rest.at(-1), 1990);
  assert.ok(s.done());
  assert.equal(s.untilNext(5000), undefined);
});

test('closed schedule: intended time is the send time, until the end', () => {
  const s = new ClosedSchedule(100, 500);
  assert.equal(s.take(50), undefined);
  assert.equal(s.take(120), 120);
  assert.equal(s.take(120), 120, 'as many as the driver has connections for');
  assert.equal(s.done(599), false);
  assert.equal(s.take(600), undefined);
  assert.equal(s.done(600), true);
});

test('the pacer sends rate × duration requests, spread over the run, never early', async () => {
  const rate = 200;
  const start = performance.now() + 20;
  const schedule = new OpenSchedule(rate, start, 1000);
  const sends: { intended: number; at: number }[] = [];
  let stop!: () => void;
  const finished = new Promise<void>((resolve) => {
    stop = startPacer(schedule, () => {
      const now = performance.now();
      for (let t = schedule.take(now); t !== undefined; t = schedule.take(now)) sends.push({ intended: t, at: now });
      if (schedule.done()) resolve();
    });
  });
  // Half-way: about half the requests have gone, and never more than are due.
  await new Promise((r) => setTimeout(r, 520));
  const elapsed = performance.now() - start;
  const halfway = sends.length;
  await finished;
  stop();
  assert.equal(sends.length, rate, 'exactly rate × duration requests');
  assert.ok(sends.every((s) => s.at >= s.intended), 'no request leaves before its intended time');
  assert.ok(halfway <= Math.floor((elapsed * rate) / 1000) + 1, `${halfway} sent after ${elapsed.toFixed(0)} ms is more than were due`);
  assert.ok(halfway >= rate * 0.25, `only ${halfway} of ${rate} sent half-way: the pacer is not pacing`);
  assert.ok(halfway <= rate * 0.75, `${halfway} of ${rate} sent half-way: requests went out in a burst`);
});

test('the pacer wakes the driver at once when its start has already passed (closed schedule)', async () => {
  // A driver whose connections were parked before the start, and whose pacer is started after
  // it (a slow set-up): the closed schedule has no next intended time, so without a first wake
  // nobody would ever hand the parked connections their work.
  const now = performance.now();
  const schedule = new ClosedSchedule(now - 50, 10_000);
  let taken = 0;
  let stop!: () => void;
  const woken = new Promise<void>((resolve) => {
    stop = startPacer(schedule, () => {
      if (schedule.take(performance.now()) !== undefined) taken++;
      resolve();
    });
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([woken, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]);
  clearTimeout(timer);
  stop();
  assert.equal(taken, 1, 'the pacer never woke the driver');
});
