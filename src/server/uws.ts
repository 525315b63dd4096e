/**
 * Loads uWebSockets.js. Its authors do not publish it to npm; `uWebSockets.js` is an npm alias
 * of a republished build that ships native binaries for Node 16/18/20 and falls back to a
 * slower pure-Node implementation on other ABIs. `HOTVEC_UWS_MODULE` names another build to
 * load instead (for example a Node 22/24 build where glibc allows it).
 */
import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';

export type Uws = typeof UWS;
const require = createRequire(import.meta.url);

/** Node ABIs the default build has native binaries for. */
const NATIVE_ABIS = new Set(['93', '108', '115']);

export interface LoadedUws {
  uws: Uws;
  module: string;
  /** 'native' or 'fallback' (the pure-Node implementation inside the default build). */
  backend: 'native' | 'fallback';
}

export function loadUws(env: NodeJS.ProcessEnv = process.env): LoadedUws {
  const override = env.HOTVEC_UWS_MODULE;
  if (override) return { uws: require(override) as Uws, module: override, backend: 'native' };
  const uws = require('uWebSockets.js') as Uws;
  const native = NATIVE_ABIS.has(process.versions.modules) && env.UWS_USE_FALLBACK === undefined;
  return { uws, module: 'uWebSockets.js', backend: native ? 'native' : 'fallback' };
}

/**
 * Closes every socket of an app (its listeners and connections): `App.close()` is in uWS 20.30's
 * native App but not in its typings; the pure-Node fallback has none (nothing to do there).
 */
export function closeApp(app: UWS.TemplatedApp): void {
  const native = app as unknown as { close?: () => void };
  if (typeof native.close === 'function') native.close();
}
