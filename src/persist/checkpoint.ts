/**
 * The checkpoint: the highest seq known to be applied in Chroma. Recovery replays the WAL
 * after it; the WAL may drop segments before it.
 *
 * The file is small JSON a person can read, with a CRC-32C over its values so a damaged
 * digit is caught rather than trusted:
 *   {"version":1,"chromaSeq":1234,"crc32c":"5f3a09c1"}
 * It is replaced atomically: write a temp file, fsync it, rename it over the old one, fsync
 * the directory. A reader sees the old checkpoint or the new one, never a mix.
 *
 * A missing file means a fresh data dir: chromaSeq 0. A corrupt one does not throw: the
 * result carries chromaSeq 0 and a `warning` naming the file. Starting from 0 is safe, since
 * replaying an older suffix of the WAL over Chroma in seq order converges to the same state,
 * and it keeps the engine available; the entry point must log the warning, because it means
 * the whole WAL will be flushed to Chroma again.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { HotvecError } from '../errors.js';
import { fsyncPath } from './fsync.js';
import { crc32c } from './crc32c.js';

export const CHECKPOINT_FILE = 'checkpoint.json';
const TEMP_FILE = `${CHECKPOINT_FILE}.tmp`;
const VERSION = 1;

export interface Checkpoint {
  /** Every op with seq <= chromaSeq is in Chroma. */
  chromaSeq: number;
}

export interface ReadCheckpoint extends Checkpoint {
  /** Set when the file existed but could not be trusted; chromaSeq is then 0. */
  warning?: string;
}

function checksum(version: number, chromaSeq: number): string {
  return crc32c(Buffer.from(`${version}:${chromaSeq}`)).toString(16).padStart(8, '0');
}

export async function readCheckpoint(dir: string): Promise<ReadCheckpoint> {
  const path = join(dir, CHECKPOINT_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { chromaSeq: 0 };
    throw new HotvecError('INTERNAL', `cannot read checkpoint ${path}: ${(err as Error).message}`, { cause: err });
  }
  const problem = validate(text);
  if (typeof problem === 'number') return { chromaSeq: problem };
  return {
    chromaSeq: 0,
    warning: `checkpoint ${path} is corrupt (${problem}); starting from seq 0, so the whole WAL will be flushed to Chroma again`,
  };
}

/** The chromaSeq held by the file's text, or a description of what is wrong with it. */
function validate(text: string): number | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'not valid JSON';
  }
  if (typeof parsed !== 'object' || parsed === null) return 'not a JSON object';
  const { version, chromaSeq, crc32c: stored } = parsed as Record<string, unknown>;
  if (version !== VERSION) return `unsupported version ${JSON.stringify(version)}`;
  if (typeof chromaSeq !== 'number' || !Number.isSafeInteger(chromaSeq) || chromaSeq < 0) {
    return `chromaSeq ${JSON.stringify(chromaSeq)} is not a non-negative integer`;
  }
  if (stored !== checksum(version, chromaSeq)) return `checksum ${JSON.stringify(stored)} does not match its values`;
  return chromaSeq;
}

// Writes to one dir run one after another, so the last call's value is the one left on disk
// and two writers never share the temp file.
const writesInFlight = new Map<string, Promise<void>>();
const ignore = (): void => {};

/** Atomically replaces the checkpoint in `dir` (created if missing). */
export function writeCheckpoint(dir: string, cp: Checkpoint): Promise<void> {
  if (!Number.isSafeInteger(cp.chromaSeq) || cp.chromaSeq < 0) {
    return Promise.reject(
      new HotvecError('INTERNAL', `checkpoint chromaSeq must be a non-negative integer, got ${String(cp.chromaSeq)}`),
    );
  }
  const previous = writesInFlight.get(dir) ?? Promise.resolve();
  const write = previous.then(() => replace(dir, cp.chromaSeq));
  // The chain link never rejects: one failed write must not fail the next one.
  const settled = write.then(ignore, ignore);
  writesInFlight.set(dir, settled);
  void settled.then(() => {
    if (writesInFlight.get(dir) === settled) writesInFlight.delete(dir);
  });
  return write;
}

async function replace(dir: string, chromaSeq: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const body = `${JSON.stringify({ version: VERSION, chromaSeq, crc32c: checksum(VERSION, chromaSeq) })}\n`;
  const temp = join(dir, TEMP_FILE);
  const file = await open(temp, 'w');
  try {
    await file.writeFile(body, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, join(dir, CHECKPOINT_FILE));
  await fsyncPath(dir);
}
