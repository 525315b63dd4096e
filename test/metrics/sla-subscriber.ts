/**
 * A WebSocket client of the `sla` topic for integration tests: collects every message and
 * waits, with a deadline, for one that matches.
 */
import WebSocket from 'ws';

export interface TopicMessage {
  topic?: string;
  event?: string;
  data?: unknown;
  id?: unknown;
  result?: unknown;
  error?: { code: string; message: string };
}

export class SlaSubscriber {
  readonly messages: TopicMessage[] = [];
  private waiters: { match: (m: TopicMessage) => boolean; resolve: (m: TopicMessage) => void }[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw: Buffer) => {
      const m = JSON.parse(raw.toString()) as TopicMessage;
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(m)) return true;
        w.resolve(m);
        return false;
      });
    });
  }

  static async connect(httpUrl: string): Promise<SlaSubscriber> {
    const ws = new WebSocket(`${httpUrl.replace('http', 'ws')}/v1/ws`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new SlaSubscriber(ws);
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  /** The first message (already received or still to come) that matches, or a rejection after `timeoutMs`. */
  waitFor(match: (m: TopicMessage) => boolean, what: string, timeoutMs = 20_000): Promise<TopicMessage> {
    const seen = this.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms; got ${this.messages.length} messages: ${JSON.stringify(this.messages.slice(-3)).slice(0, 800)}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}
