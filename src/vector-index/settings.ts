/**
 * Per-collection index settings, fixed at create time. The defaults are Chroma's HNSW
 * defaults, so a collection behaves alike in hotvec and in the Chroma tier behind it.
 */
import { z } from 'zod';

export const STORAGE_KINDS = ['f32', 'f16', 'i8'] as const;
export type StorageKind = (typeof STORAGE_KINDS)[number];

export interface IndexSettings {
  /** HNSW connectivity (Chroma `max_neighbors`). */
  m: number;
  /** Candidates kept while inserting into the graph (Chroma `ef_construction`). */
  efConstruction: number;
  /** Candidates kept while searching, unless a query asks for its own `ef` (Chroma `ef_search`). */
  efSearch: number;
  /**
   * Scalar type of the vectors inside the HNSW graph. The exact float32 vectors stay in the
   * shared arena in every case: candidates are re-ranked with them, so distances are exact.
   */
  storage: StorageKind;
}

export const DEFAULT_INDEX_SETTINGS: Readonly<IndexSettings> = Object.freeze({ m: 16, efConstruction: 100, efSearch: 100, storage: 'f32' });

/** The request schema of `index` in create-collection bodies (every field optional). */
export const indexSettingsSchema = z
  .object({
    m: z.number().int().min(2).max(256).optional(),
    efConstruction: z.number().int().min(1).max(4096).optional(),
    efSearch: z.number().int().min(1).max(4096).optional(),
    storage: z.enum(STORAGE_KINDS).optional(),
  })
  .strict();

export function resolveSettings(partial: Partial<IndexSettings> | undefined, defaults: Readonly<IndexSettings> = DEFAULT_INDEX_SETTINGS): IndexSettings {
  return {
    m: partial?.m ?? defaults.m,
    efConstruction: partial?.efConstruction ?? defaults.efConstruction,
    efSearch: partial?.efSearch ?? defaults.efSearch,
    storage: partial?.storage ?? defaults.storage,
  };
}
