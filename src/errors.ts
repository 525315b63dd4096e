/**
 * One error hierarchy for the whole engine. Every error a client can see has a stable
 * `code`; the HTTP status is chosen here, once, from the code. `kind` separates the
 * client's mistakes (answered, not logged) from the service's faults (answered and logged).
 */

export const ErrorCodes = {
  /** The body is not valid JSON/msgpack, or not an object where one is expected. */
  MALFORMED_BODY: { status: 400, kind: 'user' },
  /** A field is missing, of the wrong type or out of range; the message names the field. */
  INVALID_ARGUMENT: { status: 400, kind: 'user' },
  /** A vector's length differs from the collection's dimension. */
  DIMENSION_MISMATCH: { status: 400, kind: 'user' },
  /** The same id appears twice in one batch. */
  DUPLICATE_ID: { status: 400, kind: 'user' },
  /** No collection with that name. */
  COLLECTION_NOT_FOUND: { status: 404, kind: 'user' },
  /** No route for that method and path. */
  ROUTE_NOT_FOUND: { status: 404, kind: 'user' },
  /** The path exists but not for that method. */
  METHOD_NOT_ALLOWED: { status: 405, kind: 'user' },
  /** A collection with that name exists already. */
  COLLECTION_EXISTS: { status: 409, kind: 'user' },
  /** The body is larger than `maxBodyBytes`. */
  PAYLOAD_TOO_LARGE: { status: 413, kind: 'user' },
  /**
   * The client closed the connection before its whole body arrived. Never sent (nobody is
   * listening); the request is left out of the metrics, since its time is the client's.
   */
  CLIENT_CLOSED_REQUEST: { status: 499, kind: 'user' },
  /** Content-Type or Accept names an encoding other than JSON or msgpack. */
  UNSUPPORTED_MEDIA_TYPE: { status: 415, kind: 'user' },
  /** The shared vector arena cannot grow to hold the write (`maxIndexBytes`). */
  INDEX_FULL: { status: 507, kind: 'service' },
  /** The engine is starting, recovering or stopping. */
  NOT_READY: { status: 503, kind: 'service' },
  /** Too many requests are queued; retry later. */
  OVERLOADED: { status: 503, kind: 'service' },
  /** The write-ahead log could not be written or synced; the write was not acknowledged. */
  WAL_FAILED: { status: 500, kind: 'service' },
  /** Chroma could not be reached or answered with an error. */
  CHROMA_UNAVAILABLE: { status: 503, kind: 'service' },
  /** A configuration value is invalid; the message names the option. */
  INVALID_CONFIG: { status: 500, kind: 'service' },
  /** A bug or an unexpected failure. */
  INTERNAL: { status: 500, kind: 'service' },
} as const satisfies Record<string, { status: number; kind: 'user' | 'service' }>;

export type ErrorCode = keyof typeof ErrorCodes;

export class HotvecError extends Error {
  /** Stable, prefixed code clients can branch on, e.g. `HOTVEC_DIMENSION_MISMATCH`. */
  readonly code: `HOTVEC_${ErrorCode}`;
  readonly status: number;
  readonly kind: 'user' | 'service';

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HotvecError';
    this.code = `HOTVEC_${code}`;
    this.status = ErrorCodes[code].status;
    this.kind = ErrorCodes[code].kind;
  }

  toJSON(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** The message of anything thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Wraps anything thrown into a HotvecError; unknown errors become INTERNAL. */
export function toHotvecError(err: unknown): HotvecError {
  if (err instanceof HotvecError) return err;
  return new HotvecError('INTERNAL', errorMessage(err), { cause: err });
}

export const invalid = (message: string): HotvecError => new HotvecError('INVALID_ARGUMENT', message);
