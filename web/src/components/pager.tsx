/** Previous / next over a counted list. */
export function Pager(props: {
  readonly offset: number;
  readonly limit: number;
  readonly count: number;
  readonly onOffset: (offset: number) => void;
  readonly label: string;
}) {
  const { offset, limit, count } = props;
  if (count === 0) return null;
  const last = Math.min(offset + limit, count);
  return (
    <nav class="pager" aria-label={props.label}>
      <button type="button" disabled={offset === 0} onClick={() => props.onOffset(Math.max(0, offset - limit))}>
        Previous
      </button>
      <span aria-live="polite">
        {offset + 1}–{last} of {count}
      </span>
      <button type="button" disabled={last >= count} onClick={() => props.onOffset(offset + limit)}>
        Next
      </button>
    </nav>
  );
}
