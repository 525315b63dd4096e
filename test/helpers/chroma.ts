/**
 * A real Chroma server for integration tests: a ManagedChroma on a temporary folder and a
 * free port. Close it in `after()`; the folder is removed with it unless the caller gave one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedChroma } from '../../src/persist/managed-chroma.js';

export interface TestChroma {
  url: string;
  port: number;
  dataDir: string;
  chroma: ManagedChroma;
  close(): Promise<void>;
}

export async function startTestChroma(options: { dataDir?: string; port?: number } = {}): Promise<TestChroma> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'hotvec-chroma-'));
  let chroma: ManagedChroma;
  try {
    chroma = await ManagedChroma.start({ dataDir, port: options.port ?? 0 });
  } catch (err) {
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: chroma.url,
    port: chroma.port,
    dataDir,
    chroma,
    async close() {
      await chroma.close();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

let counter = 0;

/** A collection name no other test uses (also valid for Chroma under any prefix). */
export function uniqueCollectionName(prefix = 't'): string {
  counter++;
  return `${prefix}_${process.pid}_${counter}_${Math.random().toString(36).slice(2, 8)}x`;
}
