import { useEffect, useRef, useState } from 'preact/hooks';
import { get } from '../api';

/**
 * Calls `fn` every `ms` while the page is visible (and not at all while `ms` is null). The latest
 * `fn` is used, so callers need not memoise it.
 */
export function usePoll(fn: () => void, ms: number | null): void {
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => {
    if (ms === null) return;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') latest.current();
    }, ms);
    return () => clearInterval(timer);
  }, [ms]);
}

/**
 * GETs `path` now and every `ms` while the page is visible (`ms` may follow the latest answer:
 * poll closely while something moves): the latest answer, the error of the last attempt (cleared
 * by the next success), and `reload` to ask again at once.
 */
export function usePolledGet<T>(
  path: string,
  ms: number | null | ((latest: T | null) => number | null),
): { readonly data: T | null; readonly error: unknown; reload(): Promise<void> } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const reload = () =>
    get<T>(path).then(
      (d) => {
        setData(d);
        setError(null);
      },
      setError,
    );
  useEffect(() => {
    void reload();
  }, [path]);
  usePoll(() => void reload(), typeof ms === 'function' ? ms(data) : ms);
  return { data, error, reload };
}
