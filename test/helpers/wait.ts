/** Polling for tests: wait (bounded) for a condition another thread, a timer or another process makes true. */
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `done` every `everyMs` until it holds or `ms` have passed; returns whether it holds (the caller asserts). */
export async function until(done: () => boolean | Promise<boolean>, ms = 10_000, everyMs = 25): Promise<boolean> {
  for (let waited = 0; waited < ms && !(await done()); waited += everyMs) await sleep(everyMs);
  return done();
}
