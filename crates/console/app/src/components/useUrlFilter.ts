import { useState } from "react";
import { useSearchParams } from "react-router-dom";

/** A list's filters kept in the URL (a view can be shared or reloaded) and its page
 * cursor, which any change of filter resets. */
export function useUrlFilter() {
  const [filter, setFilter] = useSearchParams();
  const [cursor, setCursor] = useState<string | undefined>();
  return {
    filter,
    cursor,
    setCursor,
    get: (name: string) => filter.get(name) ?? "",
    set(name: string, value: string) {
      const next = new URLSearchParams(filter);
      if (value) next.set(name, value);
      else next.delete(name);
      setCursor(undefined);
      setFilter(next);
    },
  };
}

/** A datetime-local value (the user's own zone) as an RFC 3339 instant. */
export function toIso(local: string | null | undefined): string | undefined {
  if (!local) return undefined;
  const at = new Date(local);
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString();
}
