/**
 * Process entry: configuration, the one logger, the engine, and signals.
 * SIGTERM/SIGINT trigger the graceful stop; a second signal forces exit.
 */
import { pino } from 'pino';
import { helpText, loadConfig } from './config.js';
import { Engine } from './engine.js';
import { HotvecError } from './errors.js';

async function main(): Promise<number> {
  let loaded;
  try {
    loaded = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`hotvec: ${(err as Error).message}\n`);
    return 2;
  }
  if (loaded.help) {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  const config = loaded.config;
  const log = pino({ level: config.logLevel, base: { pid: process.pid } });
  const engine = new Engine(config);

  engine.on('state', (state) => log.info({ state }, `engine ${state}`));
  engine.on('chroma-started', (c) => log.info(c, c.managed ? 'managed Chroma started' : 'connected to Chroma'));
  engine.on('listening', (l) => log.info(l, `listening on http://${l.host}:${l.port}${l.queryPort === undefined ? '' : `; queries also on http://${l.host}:${l.queryPort} (query port)`}`));
  engine.on('recovery-progress', (p) => log.info(p, 'recovering'));
  engine.on('recovered', (r) => log.info(r, 'recovery done'));
  engine.on('service-error', (e) => log.error({ code: e.code, err: e.cause ?? e }, e.message));
  engine.on('flush-retry', (r) => log.warn({ attempt: r.attempt, delayMs: r.delayMs, err: r.error }, 'write-behind to Chroma failed; retrying'));
  engine.on('flusher-state', (s) => log.info({ state: s }, `write-behind ${s}`));
  engine.on('warning', (w) => log.warn(w));
  engine.on('index-built', (b) =>
    log.info(
      { collection: b.collection, kind: b.kind, segments: b.segments, nodes: b.result.nodes, seconds: Number(b.result.seconds.toFixed(2)), bytes: b.result.bytes, ...(b.result.nice === undefined ? {} : { nice: b.result.nice }) },
      b.kind === 'seal' ? 'segment sealed into an HNSW graph' : `${b.segments} segment(s) merged`,
    ),
  );
  engine.on('progress', (m) => log.info(m));
  engine.on('sla-alert', (a) => {
    const fields = { objective: a.objective, from: a.from, to: a.to, current: a.current, target: a.target, unit: a.unit, firing: a.firing, withheld: a.withheld, overall: a.overall };
    const msg = `SLA ${a.objective} ${a.from} → ${a.to}: ${a.description}`;
    if (a.to === 'ok') log.info(fields, msg);
    else if (a.to === 'breach') log.error(fields, msg);
    else log.warn(fields, msg);
  });
  engine.on('sla-webhook-failed', (f) => log.warn(f, 'SLA alert webhook failed'));
  engine.on('garbage-collected', (g) =>
    log.info(
      { externalMiBBefore: Math.round(g.externalBytesBefore / 2 ** 20), externalMiBAfter: Math.round(g.externalBytesAfter / 2 ** 20), pauseMs: Math.round(g.pauseMs * 10) / 10 },
      'write-behind drained: collected the buffers it held',
    ),
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      // The query port's sockets first (bounded): Node aborts on a thread that ends with them open.
      void engine.haltNow(1000).finally(() => process.exit(1));
      return;
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    engine.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'graceful stop failed');
        void engine.haltNow(1000).finally(() => process.exit(1));
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A bug that escaped everything (a rejection nobody handled ends here too): logged, then exit 1,
  // the query port's sockets closed first (bounded) — Node aborts the whole process when a worker
  // thread ends with them open.
  let crashed = false;
  process.on('uncaughtException', (err) => {
    if (crashed) {
      log.error({ err }, 'another uncaught exception while exiting');
      return;
    }
    crashed = true;
    log.fatal({ err }, 'uncaught exception: exiting');
    void engine.haltNow(1000).finally(() => process.exit(1));
  });

  try {
    await engine.start();
  } catch (err) {
    const e = err instanceof HotvecError ? err : null;
    log.fatal({ code: e?.code, err }, `hotvec could not start: ${(err as Error).message}`);
    await engine.close().catch(() => {});
    // A setting found unusable only at start (a port in use) is a configuration error, as a bad value is.
    if (e?.code === 'HOTVEC_INVALID_CONFIG') {
      process.stderr.write(`hotvec: ${e.message}\n`);
      return 2;
    }
    return 1;
  }
  return -1; // keep running
}

main().then((code) => {
  if (code >= 0) process.exit(code);
});
