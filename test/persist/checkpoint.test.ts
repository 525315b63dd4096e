import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HotvecError } from '../../src/errors.js';
import { CHECKPOINT_FILE, readCheckpoint, writeCheckpoint } from '../../src/persist/checkpoint.js';

let root: string;
let dirs = 0;
const newDir = (): string => join(root, `cp-${++dirs}`);

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'hotvec-checkpoint-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('checkpoint', () => {
  test('a missing checkpoint reads as seq 0 without a warning', async () => {
    assert.deepEqual(await readCheckpoint(newDir()), { chromaSeq: 0 });
  });

  test('write then read round-trips, creating the dir and leaving no temp file', async () => {
    const dir = newDir();
    await writeCheckpoint(dir, { chromaSeq: 1234 });
    assert.deepEqual(await readCheckpoint(dir), { chromaSeq: 1234 });
    assert.deepEqual(await readdir(dir), [CHECKPOINT_FILE]);
    const json = JSON.parse(await readFile(join(dir, CHECKPOINT_FILE), 'utf8')) as Record<string, unknown>;
    assert.equal(json.chromaSeq, 1234, 'the file is plain JSON a person can read');
  });

  test('a later write replaces the earlier one', async () => {
    const dir = newDir();
    await writeCheckpoint(dir, { chromaSeq: 5 });
    await writeCheckpoint(dir, { chromaSeq: 9_007_199_254_740_991 });
    assert.deepEqual(await readCheckpoint(dir), { chromaSeq: 9_007_199_254_740_991 });
  });

  test('concurrent writes land in call order', async () => {
    const dir = newDir();
    await Promise.all(Array.from({ length: 20 }, (_, i) => writeCheckpoint(dir, { chromaSeq: i + 1 })));
    assert.deepEqual(await readCheckpoint(dir), { chromaSeq: 20 });
    assert.deepEqual(await readdir(dir), [CHECKPOINT_FILE]);
  });

  const corruptions: [string, (text: string) => string, RegExp][] = [
    ['not JSON', () => '{"version":1,"chro', /not valid JSON/],
    ['a changed digit', (t) => t.replace('"chromaSeq":77', '"chromaSeq":78'), /checksum/],
    ['a negative seq', (t) => t.replace('"chromaSeq":77', '"chromaSeq":-1'), /non-negative integer/],
    ['an unknown version', (t) => t.replace('"version":1', '"version":2'), /unsupported version 2/],
    ['an empty file', () => '', /not valid JSON/],
  ];
  for (const [name, corrupt, reason] of corruptions) {
    test(`a checkpoint with ${name} reads as seq 0 with a warning naming the file`, async () => {
      const dir = newDir();
      await writeCheckpoint(dir, { chromaSeq: 77 });
      const path = join(dir, CHECKPOINT_FILE);
      await writeFile(path, corrupt(await readFile(path, 'utf8')));
      const cp = await readCheckpoint(dir);
      assert.equal(cp.chromaSeq, 0);
      assert.ok(cp.warning !== undefined);
      assert.ok(cp.warning.includes(path), cp.warning);
      assert.match(cp.warning, reason);
      // Writing a new checkpoint repairs it.
      await writeCheckpoint(dir, { chromaSeq: 80 });
      assert.deepEqual(await readCheckpoint(dir), { chromaSeq: 80 });
    });
  }

  test('an invalid chromaSeq is refused and the old checkpoint kept', async () => {
    const dir = newDir();
    await writeCheckpoint(dir, { chromaSeq: 3 });
    for (const chromaSeq of [-1, 1.5, Number.NaN, 2 ** 53]) {
      await assert.rejects(writeCheckpoint(dir, { chromaSeq }), (err) => err instanceof HotvecError);
    }
    assert.deepEqual(await readCheckpoint(dir), { chromaSeq: 3 });
  });
});
