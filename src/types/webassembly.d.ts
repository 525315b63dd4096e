/**
 * The subset of the WebAssembly JS API hotvec uses. TypeScript ships these only in lib.dom,
 * which a Node project must not pull in.
 */
declare namespace WebAssembly {
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }
  class Memory {
    constructor(descriptor: MemoryDescriptor);
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
    grow(delta: number): number;
  }
  class Module {
    constructor(bytes: BufferSource);
  }
  class Instance {
    constructor(module: Module, importObject?: Imports);
    readonly exports: Exports;
  }
  type ExportValue = ((...args: number[]) => number | void) | Memory;
  type Exports = Record<string, ExportValue>;
  type Imports = Record<string, Record<string, ExportValue | number>>;
  type BufferSource = ArrayBufferView | ArrayBuffer;
  function validate(bytes: BufferSource): boolean;
}
