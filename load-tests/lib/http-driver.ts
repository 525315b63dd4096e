/**
 * HTTP load through autocannon: its keep-alive connections, request building and response
 * parsing, one autocannon instance per operation of the scenario (a mixed run splits the rate
 * and the connections by the read ratio, so each response's operation is known).
 *
 * Pacing is ours, not autocannon's: its `overallRate` is a per-second budget that each
 * connection spends back to back at the start of every second (a burst, then silence), and its
 * coordinated-omission correction assumes a 1 ms expected interval whatever the rate. So every
 * client is hooked at `setupClient`: when it is ready to send (`_doRequest`), it takes the next
 * due request from the schedule, or parks until the pacer finds one due. Latency is measured
 * from the intended send time, with microsecond resolution (autocannon's own histogram keeps
 * whole milliseconds).
 */
import autocannon, { type Client } from 'autocannon';
import { latch, type ActiveRun, type Driver, type DriverOptions } from './driver.js';
import type { LatencyRecorder, OpName } from './latency.js';
import { makeSchedule, startPacer, type Schedule } from './open-model.js';

/** The private part of autocannon 9's Client that the pacing hook replaces. */
interface HookableClient {
  _doRequest: () => void;
  destroyed: boolean;
}

interface Slot {
  send: () => void;
  isDestroyed: () => boolean;
  busy: boolean;
  parked: boolean;
  intended: number;
  sent: number;
}

class Lane {
  readonly schedule: Schedule;
  private readonly parked: Slot[] = [];
  private inflightCount = 0;
  private closed = false;
  private readonly idleLatch = latch();
  private readonly stopPacer: () => void;
  private readonly instance: autocannon.Instance;
  private readonly stopped: Promise<void>;

  constructor(
    readonly op: OpName,
    rate: number,
    connections: number,
    private readonly recorder: LatencyRecorder,
    o: DriverOptions,
  ) {
    this.schedule = makeSchedule(rate, o.startMs, o.durationMs);
    const { workload } = o;
    const runSeconds = Math.ceil(o.durationMs / 1000) + 3600; // stopped by close(), not by autocannon
    let settle!: (err: unknown) => void;
    this.stopped = new Promise<void>((resolve, reject) => (settle = (err) => (err ? reject(err) : resolve())));
    this.stopped.catch(() => undefined); // rethrown by close(); not an unhandled rejection before

    this.instance = autocannon(
      {
        url: o.url,
        connections,
        pipelining: 1,
        duration: runSeconds,
        timeout: runSeconds,
        sampleInt: 100,
        requests: [
          {
            method: 'POST',
            path: workload.path(op),
            headers: { 'content-type': workload.contentType, accept: workload.contentType },
            setupRequest: (req) => ({ ...req, body: workload.httpBody(op) }),
          },
        ],
        setupClient: (client) => this.hook(client),
      },
      (err) => settle(err),
    );
    this.stopPacer = startPacer(this.schedule, () => this.onDue());
  }

  private hook(client: Client): void {
    const c = client as unknown as HookableClient;
    if (typeof c._doRequest !== 'function') {
      throw new Error('autocannon Client._doRequest not found: the pacing hook is written for autocannon 9');
    }
    const slot: Slot = { send: c._doRequest.bind(c), isDestroyed: () => c.destroyed, busy: false, parked: false, intended: 0, sent: 0 };
    client.on('response', (status: number) => this.answered(slot, status));
    c._doRequest = () => this.ready(slot);
  }

  /** The client wants to send: after connecting, after an answer, or after reconnecting. */
  private ready(slot: Slot): void {
    if (this.closed) return;
    if (slot.busy) {
      // Reconnected with a request outstanding (connection error or reset): that one is lost.
      slot.busy = false;
      this.inflightCount--;
      this.recorder.failed(this.op);
    }
    if (slot.parked) return;
    const now = performance.now();
    const intended = this.schedule.take(now);
    if (intended === undefined) {
      slot.parked = true;
      this.parked.push(slot);
      this.checkIdle(now);
      return;
    }
    this.start(slot, intended, now);
  }

  private start(slot: Slot, intended: number, now: number): void {
    slot.busy = true;
    slot.intended = intended;
    slot.sent = now;
    this.inflightCount++;
    this.recorder.sentAt(intended, now);
    slot.send();
  }

  private answered(slot: Slot, status: number): void {
    if (!slot.busy || this.closed) return;
    slot.busy = false;
    this.inflightCount--;
    this.recorder.answered(this.op, slot.intended, slot.sent, performance.now(), status >= 200 && status < 300 ? 'ok' : 'non2xx');
  }

  private onDue(): void {
    const now = performance.now();
    while (this.parked.length > 0) {
      const intended = this.schedule.take(now);
      if (intended === undefined) break;
      const slot = this.parked.shift()!;
      slot.parked = false;
      if (slot.isDestroyed()) {
        this.recorder.failed(this.op);
        continue;
      }
      this.start(slot, intended, now);
    }
    this.checkIdle(now);
  }

  private checkIdle(now: number): void {
    if (this.inflightCount === 0 && this.schedule.done(now)) this.idleLatch.open();
  }

  get idle(): Promise<void> {
    return this.idleLatch.promise;
  }

  inflight(): number {
    return this.inflightCount;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stopPacer();
    const now = performance.now();
    const lost = this.inflightCount + this.schedule.backlog(now);
    this.closed = true;
    if (lost > 0) this.recorder.failed(this.op, lost);
    this.inflightCount = 0;
    this.instance.stop();
    await this.stopped;
  }
}

/** Splits `connections` over the operations by share, at least one each. */
function splitConnections(connections: number, shares: number[]): number[] {
  const out = shares.map((s) => Math.max(1, Math.round(connections * s)));
  // Give the rounding error to the largest share.
  const largest = shares.indexOf(Math.max(...shares));
  out[largest] = Math.max(1, out[largest]! + connections - out.reduce((a, b) => a + b, 0));
  return out;
}

export const httpDriver: Driver = async (o) => {
  const ops = o.workload.ops;
  const shares = ops.map((op) => o.workload.share(op));
  const conns = splitConnections(o.connections, shares);
  const lanes = ops.map((op, i) => new Lane(op, o.rate * shares[i]!, conns[i]!, o.recorder, o));
  const run: ActiveRun = {
    inflight: () => lanes.reduce((n, l) => n + l.inflight(), 0),
    backlog: () => lanes.reduce((n, l) => n + l.schedule.backlog(performance.now()), 0),
    idle: Promise.all(lanes.map((l) => l.idle)).then(() => undefined),
    close: async () => {
      await Promise.all(lanes.map((l) => l.close()));
    },
  };
  return run;
};
