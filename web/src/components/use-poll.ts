import { useEffect, useRef } from 'preact/hooks';

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
