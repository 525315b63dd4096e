import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Reclaimer } from '../../src/vector-index/reclaimer.js';

test('a retirement waits for every task that entered before it, and only those', () => {
  const r = new Reclaimer();
  const ran: string[] = [];
  const a = r.enter();
  r.retire(() => ran.push('x'));
  const b = r.enter(); // entered after x was retired: must not hold it back
  assert.equal(ran.length, 0);
  r.exit(a);
  assert.equal(ran.join(), 'x');
  r.retire(() => ran.push('y'));
  assert.equal(ran.join(), 'x');
  r.exit(b);
  assert.equal(ran.join(), 'x,y');
  assert.equal(r.pending, 0);
});

test('with no task running a retirement runs at once', () => {
  const r = new Reclaimer();
  let n = 0;
  r.retire(() => n++);
  assert.equal(n, 1);
});

test('exit without enter is a bug and throws', () => {
  assert.throws(() => new Reclaimer().exit(3), /without enter/);
});

test("a retirement that throws goes to onError, not to the exit that ran it, and the ones after it run", () => {
  const r = new Reclaimer();
  const errors: unknown[] = [];
  r.onError = (err) => errors.push(err);
  let after = false;
  const reader = r.enter();
  r.retire(() => {
    throw new Error('bug in a release');
  });
  r.retire(() => (after = true));
  assert.doesNotThrow(() => r.exit(reader));
  assert.equal(after, true);
  assert.equal(errors.length, 1);
  assert.match((errors[0] as Error).message, /bug in a release/);
});
