/**
 * WebSocket load: msgpack binary frames (embeddings as one float32 bin) on a few sockets, many
 * requests in flight on each, matched to their answers by id. In the open model every due request
 * leaves at once on the next socket in turn (up to the server's 4096 in flight per socket), so
 * the generator never waits for an answer before sending; in the closed model each socket keeps
 * `inflight` requests outstanding.
 */
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { latch, type ActiveRun, type Driver } from './driver.js';
import type { OpName } from './latency.js';
import { makeSchedule, startPacer } from './open-model.js';

const packr = new Packr({ useRecords: false });
/** The engine answers OVERLOADED beyond this many requests in flight on one socket. */
const SERVER_MAX_INFLIGHT = 4096;

interface Pending {
  op: OpName;
  intended: number;
  sent: number;
}

interface Socket {
  ws: WebSocket;
  pending: Map<number, Pending>;
  dead: boolean;
}

function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

export const wsDriver: Driver = async (o) => {
  const { workload, recorder } = o;
  const wsUrl = `${o.url.replace(/^http/, 'ws')}/v1/ws`;
  const sockets: Socket[] = (await Promise.all(Array.from({ length: o.connections }, () => connect(wsUrl)))).map((ws) => ({ ws, pending: new Map(), dead: false }));
  const schedule = makeSchedule(o.rate, o.startMs, o.durationMs);
  const window = schedule.kind === 'open' ? SERVER_MAX_INFLIGHT : o.inflight;
  const idle = latch();
  let inflight = 0;
  let nextId = 1;
  let turn = 0;
  let closed = false;

  const checkIdle = (now: number): void => {
    const allDead = sockets.every((s) => s.dead);
    if ((inflight === 0 && schedule.done(now)) || allDead) idle.open();
  };

  /** The next live socket with room, in turn; undefined when all are full or dead. */
  const pickSocket = (): Socket | undefined => {
    for (let i = 0; i < sockets.length; i++) {
      const s = sockets[(turn + i) % sockets.length]!;
      if (!s.dead && s.pending.size < window) {
        turn = (turn + i + 1) % sockets.length;
        return s;
      }
    }
    return undefined;
  };

  const fill = (): void => {
    if (closed) return;
    const now = performance.now();
    for (;;) {
      const socket = pickSocket();
      if (!socket) break;
      const intended = schedule.take(now);
      if (intended === undefined) break;
      const op = workload.nextOp();
      const id = nextId++;
      socket.pending.set(id, { op, intended, sent: now });
      inflight++;
      recorder.sentAt(intended, now);
      socket.ws.send(workload.wsMessage(op, id), { binary: true });
    }
    checkIdle(now);
  };

  for (const socket of sockets) {
    socket.ws.on('message', (data: Buffer, isBinary: boolean) => {
      const now = performance.now();
      if (!isBinary) return;
      const answer = packr.unpack(data) as { id?: unknown; result?: unknown; error?: unknown };
      const p = typeof answer.id === 'number' ? socket.pending.get(answer.id) : undefined;
      if (!p || closed) return;
      socket.pending.delete(answer.id as number);
      inflight--;
      recorder.answered(p.op, p.intended, p.sent, now, answer.error === undefined ? 'ok' : 'non2xx');
      fill();
    });
    const lost = (): void => {
      if (socket.dead) return;
      socket.dead = true;
      if (!closed) {
        for (const p of socket.pending.values()) recorder.failed(p.op);
        inflight -= socket.pending.size;
      }
      socket.pending.clear();
      checkIdle(performance.now());
    };
    socket.ws.on('close', lost);
    socket.ws.on('error', lost);
  }

  const stopPacer = startPacer(schedule, fill);
  const run: ActiveRun = {
    inflight: () => inflight,
    backlog: () => schedule.backlog(performance.now()),
    idle: idle.promise,
    close: async () => {
      if (closed) return;
      stopPacer();
      closed = true;
      for (const s of sockets) for (const p of s.pending.values()) recorder.failed(p.op);
      const unsent = schedule.backlog(performance.now());
      for (let i = 0; i < unsent; i++) recorder.failed(workload.nextOp());
      inflight = 0;
      await Promise.all(
        sockets.map(
          (s) =>
            new Promise<void>((resolve) => {
              if (s.ws.readyState === WebSocket.CLOSED) return resolve();
              s.ws.once('close', () => resolve());
              s.ws.terminate();
            }),
        ),
      );
    },
  };
  return run;
};
