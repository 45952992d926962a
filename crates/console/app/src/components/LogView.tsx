// The live log: every line once and in order (the reader resumes by seq), drawn as a
// virtual list so 200,000 lines cost no more than the few dozen on screen, and
// repainted at most once per frame however fast lines arrive.

import { useVirtualizer } from "@tanstack/react-virtual";
import { type KeyboardEvent, type RefObject, useCallback, useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import type { LogEnd, LogLine } from "../api/types";
import { toError } from "../api/client";
import { useSession } from "../auth/context";
import { StreamRefused, followLog } from "../sse/reader";
import { Problem } from "./Problem";

const ROW_HEIGHT = 20;

export interface LogViewProps {
  executionId: string;
  /** The first lines arrived: the run has started, whatever the page last heard. */
  onStart: () => void;
  onEnd: (end: LogEnd) => void;
}

export function LogView({ executionId, onStart, onEnd }: LogViewProps) {
  const { t } = useTranslation();
  const { api } = useSession();
  const lines = useRef<LogLine[]>([]);
  const [count, setCount] = useState(0);
  const [connection, setConnection] = useState<"connecting" | "live" | "retrying" | "ended">("connecting");
  const [failure, setFailure] = useState<unknown>();
  const [follow, setFollow] = useState(true);
  const frame = useRef<number | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const search = useSearch(lines);
  const onEndRef = useRef(onEnd);
  onEndRef.current = onEnd;
  const onStartRef = useRef(onStart);
  onStartRef.current = onStart;

  const flush = useCallback(() => {
    frame.current = null;
    setCount(lines.current.length);
  }, []);

  useEffect(() => {
    lines.current = [];
    setCount(0);
    setFailure(undefined);
    const controller = new AbortController();
    followLog((path, init) => api.fetch(path, init), executionId, {
      signal: controller.signal,
      onState: setConnection,
      onLines: (fresh) => {
        const all = lines.current;
        if (all.length === 0) onStartRef.current();
        for (const line of fresh) all.push(line);
        frame.current ??= requestAnimationFrame(flush);
      },
      onEnd: (end) => {
        flush();
        setConnection("ended");
        onEndRef.current(end);
      },
    }).catch((error: unknown) => {
      if (error instanceof StreamRefused) setFailure(error);
    });
    return () => {
      controller.abort();
      if (frame.current !== null) cancelAnimationFrame(frame.current);
      frame.current = null;
    };
  }, [api, executionId, flush]);

  const virtual = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 30,
  });

  useEffect(() => {
    search.extend(count);
    if (follow && count > 0) virtual.scrollToIndex(count - 1, { align: "end" });
    // Runs once per repaint of new lines.
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `search` and `virtual` are read, not watched
  }, [count, follow]);

  // Only the user stops following: the view's own scrolling to the newest line also
  // fires scroll events, often already short of a bottom that has moved on.
  const userScrolling = useRef(false);
  const userScrolled = () => {
    userScrolling.current = true;
  };
  function onScroll() {
    const el = scroller.current;
    if (!el) return;
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_HEIGHT * 2;
    if (atBottom) {
      if (!follow) setFollow(true);
    } else if (userScrolling.current && follow) {
      setFollow(false);
    }
    userScrolling.current = false;
  }
  function onKeyDown(event: KeyboardEvent) {
    if (["ArrowUp", "PageUp", "Home"].includes(event.key)) userScrolled();
  }

  function jump(step: 1 | -1) {
    const index = search.step(step);
    if (index !== undefined) {
      setFollow(false);
      virtual.scrollToIndex(index, { align: "center" });
    }
  }

  async function download() {
    setFailure(undefined);
    const response = await api
      .fetch(`/api/v1/executions/${encodeURIComponent(executionId)}/logs?format=text`)
      .catch((error: unknown) => error);
    if (!(response instanceof Response) || !response.ok) {
      setFailure(response instanceof Response ? await toError(response) : response);
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = `execution-${executionId}.log`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  const current = search.currentLine();
  return (
    <section className="log" aria-labelledby="log-title">
      <div className="log-bar">
        <h2 id="log-title">{t("log.title")}</h2>
        <span className="muted" data-testid="log-count" data-lines={count}>
          {t("log.lines", { count })}
        </span>
        <span className={`connection connection-${connection}`} role="status">
          {t(`log.connection.${connection}`)}
        </span>
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            jump(1);
          }}
        >
          <label htmlFor="log-search" className="visually-hidden">
            {t("log.search")}
          </label>
          <input
            id="log-search"
            type="search"
            placeholder={t("log.search")}
            value={search.query}
            onChange={(e) => search.setQuery(e.target.value)}
          />
          <span data-testid="log-matches" data-matches={search.total} aria-live="polite">
            {search.query ? t("log.matches", { current: search.position, total: search.total }) : ""}
          </span>
          <button type="button" onClick={() => jump(-1)} disabled={search.total === 0} aria-label={t("log.previous")}>
            ↑
          </button>
          <button type="submit" disabled={search.total === 0} aria-label={t("log.next")}>
            ↓
          </button>
        </form>
        <label className="follow">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> {t("log.follow")}
        </label>
        <button type="button" onClick={() => void download()}>
          {t("log.download")}
        </button>
      </div>
      <Problem error={failure} />
      <div
        className="log-lines"
        ref={scroller}
        // As tall as its lines up to most of the screen: a short log leaves no void.
        style={{ height: `min(60vh, ${Math.max(count, 4) * ROW_HEIGHT + 16}px)` }}
        onScroll={onScroll}
        onWheel={userScrolled}
        onTouchMove={userScrolled}
        onPointerDown={userScrolled}
        onKeyDown={onKeyDown}
        tabIndex={0}
        role="log"
        aria-live="off"
        aria-label={t("log.title")}
        data-testid="log-lines"
      >
        {count === 0 && <p className="muted log-empty">{t("log.empty")}</p>}
        <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
          {virtual.getVirtualItems().map((row) => {
            const line = lines.current[row.index];
            if (!line) return null;
            const stderr = line.stream === "stderr";
            // The worker's own notices: no script can write in this stream.
            const sage = line.stream === "sage";
            return (
              <div
                key={line.seq}
                className={`log-row${stderr ? " stderr" : ""}${sage ? " sage" : ""}${row.index === current ? " current-match" : ""}`}
                data-seq={line.seq}
                style={{ transform: `translateY(${row.start}px)`, height: ROW_HEIGHT }}
              >
                <span className="seq" aria-hidden="true">
                  {line.seq}
                </span>
                <span className="stream" title={line.stream}>
                  {stderr ? t("log.stderr") : sage ? t("log.sage") : t("log.stdout")}
                </span>
                <span className="text">{line.line}</span>
              </div>
            );
          })}
        </div>
      </div>
    </section>
  );
}

/** Matches of the search text, kept up to date as lines arrive without rescanning. */
function useSearch(lines: RefObject<LogLine[]>) {
  const [query, setQueryText] = useState("");
  const [total, setTotal] = useState(0);
  const [position, setPosition] = useState(0);
  const matches = useRef<number[]>([]);
  const scanned = useRef(0);
  const queryRef = useRef("");

  const scan = useCallback(
    (upTo: number) => {
      const q = queryRef.current;
      if (!q) return;
      const all = lines.current;
      const needle = q.toLowerCase();
      for (let i = scanned.current; i < upTo; i++) {
        if (all[i]?.line.toLowerCase().includes(needle)) matches.current.push(i);
      }
      scanned.current = upTo;
      setTotal(matches.current.length);
    },
    [lines],
  );

  return {
    query,
    total,
    position,
    setQuery(text: string) {
      setQueryText(text);
      queryRef.current = text;
      matches.current = [];
      scanned.current = 0;
      setPosition(0);
      setTotal(0);
      scan(lines.current.length);
    },
    extend: scan,
    step(direction: 1 | -1): number | undefined {
      const n = matches.current.length;
      if (n === 0) return undefined;
      const next = position === 0 ? (direction === 1 ? 1 : n) : ((position - 1 + direction + n) % n) + 1;
      setPosition(next);
      return matches.current[next - 1];
    },
    currentLine(): number | undefined {
      return position > 0 ? matches.current[position - 1] : undefined;
    },
  };
}
