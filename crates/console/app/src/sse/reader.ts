// Live logs over Server-Sent Events, read with fetch: an EventSource cannot send the
// Authorization header. The reader resumes after a dropped connection with
// Last-Event-ID and hands each line over exactly once, in order, however the server's
// replay and the live stream overlap.

import type { LogEnd, LogLine } from "../api/types";

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/** The text/event-stream format, fed in arbitrary pieces. */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private id: string | undefined;

  feed(text: string): SseEvent[] {
    this.buffer += text;
    const events: SseEvent[] = [];
    const newline = /\r\n|\r|\n/g;
    let start = 0;
    for (;;) {
      newline.lastIndex = start;
      const found = newline.exec(this.buffer);
      if (!found) break;
      const end = found.index;
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (found[0] === "\r" && end + 1 === this.buffer.length) break;
      const event = this.line(this.buffer.slice(start, end));
      if (event) events.push(event);
      start = end + found[0].length;
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === "") {
      if (this.data.length === 0) {
        this.event = "";
        return undefined;
      }
      const event = { id: this.id, event: this.event || "message", data: this.data.join("\n") };
      this.data = [];
      this.event = "";
      return event;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
    return undefined;
  }
}

export interface FollowOptions {
  /** Lines in order, each once; called once per piece of the stream read. */
  onLines: (lines: LogLine[]) => void;
  onEnd: (end: LogEnd) => void;
  /** The connection state, for the page to show. */
  onState?: (state: "connecting" | "live" | "retrying") => void;
  signal: AbortSignal;
  /** Resume after this seq (0: from the first line). */
  after?: number;
  /** Waits between reconnections; tests shorten them. */
  retryDelays?: number[];
}

export type StreamFetch = (path: string, init: RequestInit) => Promise<Response>;

export class StreamRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const RETRY_DELAYS = [500, 1000, 2000, 5000, 10000];

/** Follows an execution's log until its end event; resolves then, or when aborted. */
export async function followLog(fetchStream: StreamFetch, executionId: string, options: FollowOptions): Promise<void> {
  const delays = options.retryDelays ?? RETRY_DELAYS;
  let last = options.after ?? 0;
  let failures = 0;
  const path = `/api/v1/executions/${encodeURIComponent(executionId)}/logs`;
  while (!options.signal.aborted) {
    options.onState?.(failures === 0 ? "connecting" : "retrying");
    try {
      const headers: Record<string, string> = { Accept: "text/event-stream" };
      if (last > 0) headers["Last-Event-ID"] = String(last);
      const response = await fetchStream(path, { headers, signal: options.signal });
      if (response.status === 429 || response.status >= 500) {
        throw new Error(`the log stream answered ${response.status}`);
      }
      if (!response.ok || !response.body) {
        throw new StreamRefused(response.status, `the log stream answered ${response.status}`);
      }
      options.onState?.("live");
      const parser = new SseParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        failures = 0;
        const fresh: LogLine[] = [];
        let end: LogEnd | undefined;
        let newest = last;
        for (const event of parser.feed(value)) {
          if (event.event === "log") {
            const line = parse<LogLine>(event.data);
            if (line.seq > newest) {
              fresh.push(line);
              newest = line.seq;
            }
          } else if (event.event === "end") {
            end = parse<LogEnd>(event.data);
          }
        }
        if (fresh.length > 0) options.onLines(fresh);
        // Only lines handed over count as read: a resume asks again for the rest.
        last = newest;
        if (end) {
          options.onEnd(end);
          await reader.cancel().catch(() => {});
          return;
        }
      }
    } catch (error) {
      if (options.signal.aborted) return;
      if (error instanceof StreamRefused) throw error;
    }
    // The connection ended without the end event: resume after the last line seen.
    const delay = delays[Math.min(failures, delays.length - 1)] ?? 1000;
    failures += 1;
    await sleep(delay, options.signal);
  }
}

/** An event the server could not have meant: reading on would only repeat it. */
function parse<T>(data: string): T {
  try {
    return JSON.parse(data) as T;
  } catch {
    throw new StreamRefused(200, "the log stream sent an event that is not JSON");
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
