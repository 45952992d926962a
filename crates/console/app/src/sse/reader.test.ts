import { describe, expect, it } from "vitest";

import type { LogEnd, LogLine } from "../api/types";
import { SseParser, StreamRefused, followLog } from "./reader";

describe("SseParser", () => {
  it("reads events split anywhere, CRLF or LF, skipping comments", () => {
    const text =
      ': keep-alive\r\nid: 1\r\nevent: log\r\ndata: {"seq":1}\r\n\r\nid: 2\nevent: log\ndata: a\ndata: b\n\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const parser = new SseParser();
      const events = [...parser.feed(text.slice(0, cut)), ...parser.feed(text.slice(cut))];
      expect(events).toEqual([
        { id: "1", event: "log", data: '{"seq":1}' },
        { id: "2", event: "log", data: "a\nb" },
      ]);
    }
  });

  it("defaults the event name and keeps the last id", () => {
    const parser = new SseParser();
    expect(parser.feed("id: 7\ndata:x\n\ndata: y\n\n")).toEqual([
      { id: "7", event: "message", data: "x" },
      { id: "7", event: "message", data: "y" },
    ]);
  });
});

function logEvent(seq: number): string {
  const line: LogLine = { seq, stream: seq % 2 ? "stdout" : "stderr", ts: "2026-12-01T00:00:00Z", line: `line ${seq}` };
  return `id: ${seq}\nevent: log\ndata: ${JSON.stringify(line)}\n\n`;
}

function streamOf(pieces: string[]): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const encoder = new TextEncoder();
      for (const piece of pieces) controller.enqueue(encoder.encode(piece));
      controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

describe("followLog", () => {
  it("resumes with Last-Event-ID and hands each line over once", async () => {
    const asked: (string | null)[] = [];
    const answers = [
      // The first connection drops after line 3, in the middle of line 4.
      streamOf([logEvent(1) + logEvent(2), logEvent(3) + "id: 4\nevent: lo"]),
      // The server replays from what it has: line 3 again, then the rest and the end.
      streamOf([logEvent(3), logEvent(4) + logEvent(5), 'event: end\ndata: {"status":"succeeded","exit_code":0}\n\n']),
    ];
    const seen: number[] = [];
    let end: LogEnd | undefined;
    await followLog(
      async (_path, init) => {
        asked.push(new Headers(init.headers).get("Last-Event-ID"));
        const next = answers.shift();
        if (!next) throw new Error("asked once too often");
        return next;
      },
      "run",
      {
        onLines: (lines) => seen.push(...lines.map((l) => l.seq)),
        onEnd: (e) => (end = e),
        signal: new AbortController().signal,
        retryDelays: [1],
      },
    );
    expect(asked).toEqual([null, "3"]);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(end).toEqual({ status: "succeeded", exit_code: 0 });
  });

  it("retries after a network error and a 429, and stops on a 404", async () => {
    const answers: (() => Response)[] = [
      () => {
        throw new TypeError("network down");
      },
      () => new Response("{}", { status: 429 }),
      () => new Response("{}", { status: 404 }),
    ];
    const attempt = followLog(async () => answers.shift()!(), "run", {
      onLines: () => {},
      onEnd: () => {},
      signal: new AbortController().signal,
      retryDelays: [1],
    });
    await expect(attempt).rejects.toBeInstanceOf(StreamRefused);
    expect(answers).toHaveLength(0);
  });

  it("stops on an event that is not JSON instead of asking for it again", async () => {
    let asked = 0;
    const attempt = followLog(
      async () => {
        asked += 1;
        return streamOf([logEvent(1), "id: 2\nevent: log\ndata: {not json\n\n"]);
      },
      "run",
      { onLines: () => {}, onEnd: () => {}, signal: new AbortController().signal, retryDelays: [1] },
    );
    await expect(attempt).rejects.toBeInstanceOf(StreamRefused);
    expect(asked).toBe(1);
  });

  it("returns quietly when aborted", async () => {
    const controller = new AbortController();
    const attempt = followLog(
      async () => {
        controller.abort();
        throw new DOMException("aborted", "AbortError");
      },
      "run",
      { onLines: () => {}, onEnd: () => {}, signal: controller.signal },
    );
    await expect(attempt).resolves.toBeUndefined();
  });
});
