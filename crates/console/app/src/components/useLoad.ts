import { type DependencyList, useCallback, useEffect, useState } from "react";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Loads once per change of `deps`; a newer load wins over an older one. */
export function useLoad<T>(load: () => Promise<T>, deps: DependencyList): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [round, setRound] = useState(0);
  // `deps` are what `load` reads: the caller names them, as with useEffect.
  // eslint-disable-next-line react-hooks/exhaustive-deps -- the caller's `deps` are the dependencies
  const stableLoad = useCallback(load, deps);
  useEffect(() => {
    let current = true;
    setLoading(true);
    stableLoad().then(
      (value) => {
        if (!current) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (failure) => {
        if (!current) return;
        setError(failure);
        setLoading(false);
      },
    );
    return () => {
      current = false;
    };
  }, [stableLoad, round]);
  return { data, error, loading, reload: () => setRound((r) => r + 1) };
}
