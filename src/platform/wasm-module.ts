/**
 * WebAssembly modules that scripts/build-wasm.mjs compiles from the .wat sources next to their
 * compiled loaders (`dist/src/...`): read and compiled synchronously (they are a few KiB, and a
 * worker needs its kernels before its first task), once per thread and URL.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HotvecError } from '../errors.js';

const compiled = new Map<string, WebAssembly.Module>();

/** The compiled module at `url` (a loader passes `new URL('./x.wasm', import.meta.url)`). */
export function builtWasmModule(url: URL): WebAssembly.Module {
  let module = compiled.get(url.href);
  if (module === undefined) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(url);
    } catch (err) {
      throw new HotvecError('INTERNAL', `cannot read ${fileURLToPath(url)}; it is built by scripts/build-wasm.mjs (npm run build)`, { cause: err });
    }
    module = new WebAssembly.Module(bytes);
    compiled.set(url.href, module);
  }
  return module;
}
