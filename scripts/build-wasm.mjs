// Compiles the WebAssembly text kernels to binary next to their compiled TypeScript loaders
// (dist/src/kernels/), where src/kernels/wasm.ts reads them with a path relative to itself.
// Runs after `tsc` in `npm run build`; uses the wabt npm package so no native toolchain is needed.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Each .wat source and the .wasm it becomes. */
const targets = [
  { source: 'src/kernels/distance.wat', output: 'dist/src/kernels/distance.wasm' },
  { source: 'src/server/json-scan.wat', output: 'dist/src/server/json-scan.wasm' },
  { source: 'src/persist/crc32c.wat', output: 'dist/src/persist/crc32c.wasm' },
];

// Shared memory needs the threads feature; the kernels need SIMD.
const features = { simd: true, threads: true };

const wabt = await wabtInit();
for (const { source, output } of targets) {
  const sourcePath = join(root, source);
  const outputPath = join(root, output);
  const text = await readFile(sourcePath, 'utf8');
  let module;
  try {
    module = wabt.parseWat(source, text, features);
    module.resolveNames();
    // validate() takes the feature set too (index.d.ts omits the parameter); without it
    // wabt rejects the shared memory import.
    module.validate(features);
    const { buffer } = module.toBinary({ log: false, write_debug_names: true });
    await mkdir(dirname(outputPath), { recursive: true });
    await writeFile(outputPath, buffer);
    console.log(`build-wasm: ${source} -> ${relative(root, outputPath)} (${buffer.byteLength} bytes)`);
  } catch (err) {
    console.error(`build-wasm: ${source}: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  } finally {
    module?.destroy();
  }
}
