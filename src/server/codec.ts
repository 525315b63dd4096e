/**
 * JSON and msgpack, chosen per request: the request body by Content-Type, the response by
 * Accept (falling back to the request's own encoding). Typed arrays in results become plain
 * number arrays in both encodings so HTTP and WebSocket answers have the same shape.
 */
import { Packr } from 'msgpackr';
import { HotvecError } from '../errors.js';
import { parseJsonBody } from './json-body.js';

export type Encoding = 'json' | 'msgpack';

// Plain msgpack: no record extension, so any msgpack client can read our answers.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function encodingOfContentType(contentType: string): Encoding {
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  if (type === '' || type === 'application/json') return 'json';
  if (type === 'application/msgpack' || type === 'application/x-msgpack' || type === 'application/vnd.msgpack') return 'msgpack';
  throw new HotvecError('UNSUPPORTED_MEDIA_TYPE', `Content-Type "${type}" is not supported; send application/json or application/msgpack`);
}

export function encodingOfAccept(accept: string, fallback: Encoding): Encoding {
  if (accept === '' || accept.includes('*/*')) return fallback;
  if (/application\/(x-|vnd\.)?msgpack/i.test(accept)) return 'msgpack';
  if (/application\/json/i.test(accept)) return 'json';
  throw new HotvecError('UNSUPPORTED_MEDIA_TYPE', `Accept "${accept}" names no encoding hotvec speaks; accept application/json or application/msgpack`);
}

export const contentTypeOf = (e: Encoding): string => (e === 'json' ? 'application/json' : 'application/msgpack');

export function decode(bytes: Uint8Array, encoding: Encoding): unknown {
  if (bytes.byteLength === 0) return {};
  try {
    if (encoding === 'json') return parseJsonBody(bytes);
    return packr.unpack(bytes);
  } catch (err) {
    throw new HotvecError('MALFORMED_BODY', `the body is not valid ${encoding === 'json' ? 'JSON' : 'msgpack'}: ${(err as Error).message}`);
  }
}

const typedToArray = (_key: string, value: unknown): unknown => (value instanceof Float32Array ? Array.from(value) : value);

/** Replaces typed arrays (embeddings) by number arrays, for msgpack. */
function plain(value: unknown): unknown {
  if (value instanceof Float32Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

export function encode(value: unknown, encoding: Encoding, hasTypedArrays = true): Uint8Array | string {
  if (encoding === 'json') return hasTypedArrays ? JSON.stringify(value, typedToArray) : JSON.stringify(value);
  return packr.pack(hasTypedArrays ? plain(value) : value);
}
