/**
 * The firmware compatibility table (R2): which signature algorithms each OS family and version
 * supports; the first row that matches a device decides. Everyone reads it; operators and
 * administrators edit a draft (add, remove, change, reorder rows) and, before saving, see what the
 * draft would do to the fleet against the current default (POST /compatibility/preview, asked
 * again a moment after each change).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, get } from '../api';
import { useAction } from '../components/dialog';
import { ErrorMessage, Notice } from '../components/error-message';
import { plural } from '../format';
import { useSession } from '../session';
import { Permission, ALLOWED_SIGNATURE_ALGORITHMS, type CompatibilityPreview, type CompatibilityRule, type CompatibilityTable } from '../types';

/** How long the draft must rest before its preview is asked for. */
const PREVIEW_DELAY_MS = 300;

interface DraftRow {
  /** Stable across reordering, for the list's keys (and so focus stays on the moved row). */
  readonly key: number;
  readonly profile: string;
  readonly osFamily: string;
  /** Empty: every version. */
  readonly maxVersion: string;
  readonly algorithms: readonly string[];
}

let nextKey = 0;
const toDraft = (r: CompatibilityRule): DraftRow => ({ key: ++nextKey, profile: r.profile, osFamily: r.osFamily, maxVersion: r.maxVersion ?? '', algorithms: r.algorithms });
const toRule = (r: DraftRow): CompatibilityRule => ({
  profile: r.profile,
  osFamily: r.osFamily,
  maxVersion: r.maxVersion.trim() === '' ? null : r.maxVersion.trim(),
  // In the allow-list's order, whatever order they were ticked in.
  algorithms: ALLOWED_SIGNATURE_ALGORITHMS.filter((a) => r.algorithms.includes(a)),
});

export function CompatibilityPage() {
  const session = useSession();
  const mayChange = session.can(Permission.manageCertificates);
  const [rules, setRules] = useState<readonly CompatibilityRule[] | null>(null);
  const [draft, setDraft] = useState<readonly DraftRow[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const load = () =>
    get<CompatibilityTable>('/compatibility').then((t) => {
      setRules(t.rules);
      setError(null);
    }, setError);
  useEffect(() => {
    void load();
  }, []);

  return (
    <>
      <h1 tabIndex={-1}>Firmware compatibility</h1>
      <p class="intro">
        Which signature algorithms each firmware can verify. A device is matched against the rows in order: the first row whose OS family is the
        device's and whose maximum version is at or above the device's version decides. A device that declared its own algorithms at registration
        is not matched. The rotation gives a device the default certificate only if its firmware supports the default's algorithm.
      </p>
      <Notice text={notice} />
      <ErrorMessage error={error} />
      {rules === null && !error ? <p role="status">Loading the table…</p> : null}
      {rules !== null && draft === null ? (
        <>
          {mayChange ? (
            <div class="toolbar" role="group" aria-label="Table actions">
              <button
                type="button"
                class="primary"
                onClick={() => {
                  setNotice(null);
                  setDraft(rules.map(toDraft));
                }}
              >
                Edit the table
              </button>
            </div>
          ) : null}
          <RulesTable rules={rules} />
        </>
      ) : null}
      {rules !== null && draft !== null ? (
        <TableEditor
          saved={rules}
          draft={draft}
          onDraft={setDraft}
          onCancel={() => setDraft(null)}
          onSaved={(saved) => {
            setRules(saved);
            setDraft(null);
            setNotice(`Saved the compatibility table (${plural(saved.length, 'row')}). The rotation runs now for the devices it moved.`);
          }}
        />
      ) : null}
    </>
  );
}

function RulesTable(props: { readonly rules: readonly CompatibilityRule[] }) {
  return (
    <table class="grid compatibility">
      <caption class="sr-only">Firmware compatibility table, in match order</caption>
      <thead>
        <tr>
          <th scope="col" class="num">
            #
          </th>
          <th scope="col">Profile</th>
          <th scope="col">OS family</th>
          <th scope="col">Up to version</th>
          <th scope="col">Supported algorithms</th>
        </tr>
      </thead>
      <tbody>
        {props.rules.map((r, i) => (
          <tr key={`${i}-${r.profile}`}>
            <td class="num">{i + 1}</td>
            <td class="mono nowrap">{r.profile}</td>
            <td class="nowrap">{r.osFamily}</td>
            <td class="mono nowrap">{r.maxVersion ?? 'every version'}</td>
            <td>
              <ul class="algorithms">
                {ALLOWED_SIGNATURE_ALGORITHMS.filter((a) => r.algorithms.includes(a)).map((a) => (
                  <li key={a}>{a}</li>
                ))}
              </ul>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

type PreviewState =
  | { readonly kind: 'waiting' }
  | { readonly kind: 'ready'; readonly forDraft: string; readonly preview: CompatibilityPreview }
  | { readonly kind: 'refused'; readonly forDraft: string; readonly error: unknown };

function TableEditor(props: {
  readonly saved: readonly CompatibilityRule[];
  readonly draft: readonly DraftRow[];
  readonly onDraft: (draft: readonly DraftRow[]) => void;
  readonly onCancel: () => void;
  readonly onSaved: (rules: readonly CompatibilityRule[]) => void;
}) {
  const { draft, onDraft } = props;
  const proposed = draft.map(toRule);
  const body = JSON.stringify({ rules: proposed });
  const changed = body !== JSON.stringify({ rules: props.saved.map((r) => ({ ...r, algorithms: ALLOWED_SIGNATURE_ALGORITHMS.filter((a) => r.algorithms.includes(a)) })) });
  const [preview, setPreview] = useState<PreviewState>({ kind: 'waiting' });
  const asked = useRef(0);
  const { busy, error, run } = useAction();

  useEffect(() => {
    setPreview({ kind: 'waiting' });
    const request = ++asked.current;
    const timer = setTimeout(() => {
      api<CompatibilityPreview>('POST', '/compatibility/preview', { rules: proposed }).then(
        (p) => request === asked.current && setPreview({ kind: 'ready', forDraft: body, preview: p }),
        (e: unknown) => request === asked.current && setPreview({ kind: 'refused', forDraft: body, error: e }),
      );
    }, PREVIEW_DELAY_MS);
    return () => clearTimeout(timer);
  }, [body]);

  const update = (key: number, change: Partial<Omit<DraftRow, 'key'>>) => onDraft(draft.map((r) => (r.key === key ? { ...r, ...change } : r)));
  const move = (index: number, by: -1 | 1) => {
    const next = [...draft];
    const [row] = next.splice(index, 1);
    if (!row) return;
    next.splice(index + by, 0, row);
    onDraft(next);
  };
  const current = preview.kind !== 'waiting' && preview.forDraft === body ? preview : null;

  return (
    <form
      class="form table-editor"
      aria-label="Edit the compatibility table"
      onSubmit={(e) => {
        e.preventDefault();
        void run(async () => props.onSaved((await api<CompatibilityTable>('PUT', '/compatibility', { rules: proposed })).rules));
      }}
    >
      <div class="table-scroll">
        <table class="grid compatibility editing">
          <caption class="sr-only">Draft of the firmware compatibility table, in match order</caption>
          <thead>
            <tr>
              <th scope="col" class="num">
                #
              </th>
              <th scope="col">Profile</th>
              <th scope="col">OS family</th>
              <th scope="col">Up to version</th>
              <th scope="col">Supported algorithms</th>
              <th scope="col">
                <span class="sr-only">Order and removal</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {draft.map((r, i) => {
              const row = `row ${i + 1}`;
              return (
                <tr key={r.key} data-row={i + 1}>
                  <td class="num">{i + 1}</td>
                  <td>
                    <input type="text" class="profile" required maxLength={64} aria-label={`Profile, ${row}`} value={r.profile} onInput={(e) => update(r.key, { profile: e.currentTarget.value })} />
                  </td>
                  <td>
                    <input type="text" class="family" required maxLength={64} aria-label={`OS family, ${row}`} value={r.osFamily} onInput={(e) => update(r.key, { osFamily: e.currentTarget.value })} />
                  </td>
                  <td>
                    <input
                      type="text"
                      class="version"
                      maxLength={64}
                      placeholder="(all)"
                      aria-label={`Up to version, ${row}`}
                      value={r.maxVersion}
                      onInput={(e) => update(r.key, { maxVersion: e.currentTarget.value })}
                    />
                  </td>
                  <td>
                    <fieldset class="algorithm-choice">
                      <legend class="sr-only">Supported algorithms, {row}</legend>
                      {ALLOWED_SIGNATURE_ALGORITHMS.map((a) => (
                        <label class="inline" key={a}>
                          <input
                            type="checkbox"
                            checked={r.algorithms.includes(a)}
                            aria-label={`${a}, ${row}`}
                            onChange={(e) => update(r.key, { algorithms: e.currentTarget.checked ? [...r.algorithms, a] : r.algorithms.filter((x) => x !== a) })}
                          />
                          {a}
                        </label>
                      ))}
                    </fieldset>
                  </td>
                  <td class="row-actions">
                    <button type="button" class="small" aria-label={`Move ${row} up`} disabled={i === 0} onClick={() => move(i, -1)}>
                      ↑
                    </button>
                    <button type="button" class="small" aria-label={`Move ${row} down`} disabled={i === draft.length - 1} onClick={() => move(i, 1)}>
                      ↓
                    </button>
                    <button type="button" class="small danger-outline" aria-label={`Remove ${row}`} disabled={draft.length === 1} onClick={() => onDraft(draft.filter((x) => x.key !== r.key))}>
                      Remove
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <div class="toolbar" role="group" aria-label="Draft actions">
        <button type="button" onClick={() => onDraft([...draft, { key: ++nextKey, profile: '', osFamily: '', maxVersion: '', algorithms: [] }])}>
          Add a row
        </button>
        <span class="spacer" />
        {busy ? (
          <span class="busy" role="status">
            Saving…
          </span>
        ) : null}
        <button type="submit" class="primary" disabled={busy || !changed || current?.kind !== 'ready'}>
          Save the table
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
      <ErrorMessage error={error} />
      <section class="panel" aria-labelledby="preview-title" aria-live="polite">
        <h2 id="preview-title">What saving this table would do</h2>
        {current === null ? <p class="live">Working out the effect on the fleet…</p> : null}
        {current?.kind === 'refused' ? <ErrorMessage error={current.error} /> : null}
        {current?.kind === 'ready' ? <PreviewView preview={current.preview} changed={changed} /> : null}
      </section>
    </form>
  );
}

const CHANGE_STATS = [
  ['newlySwitching', 'Newly switching', 'would get the default as a pending replacement'],
  ['noLongerSwitching', 'No longer switching', 'would lose their pending replacement and keep their certificate'],
  ['unsupportedPin', 'Unsupported pin', 'pin a certificate this table says their firmware cannot verify'],
] as const;

function PreviewView(props: { readonly preview: CompatibilityPreview; readonly changed: boolean }) {
  const p = props.preview;
  const profiles = Object.entries(p.byProfile).sort(([a], [b]) => a.localeCompare(b));
  return (
    <>
      <p>
        Against the default <span class="alias">{p.defaultAlias}</span> ({p.defaultAlgorithm}), {plural(p.total, 'registered device')}.
        {props.changed ? '' : ' The draft is the saved table: nothing would change.'}
      </p>
      <dl class="stats">
        <div data-stat="switching">
          <dt>Switching to the default</dt>
          <dd>
            {p.switching.before} → {p.switching.after}
          </dd>
        </div>
        <div data-stat="staying">
          <dt>Staying on their certificate</dt>
          <dd>
            {p.staying.before} → {p.staying.after}
          </dd>
        </div>
        {CHANGE_STATS.map(([field, label]) => (
          <div key={field} data-stat={field} class={field === 'unsupportedPin' && p[field] > 0 ? 'alarm' : undefined}>
            <dt>{label}</dt>
            <dd>{p[field]}</dd>
          </div>
        ))}
      </dl>
      <ul class="plain">
        {CHANGE_STATS.map(([field, , meaning]) => (
          <li key={field}>
            {plural(p[field], 'device')} {meaning}.
          </li>
        ))}
        {p.declared > 0 ? <li>{plural(p.declared, 'device')} declared their own algorithms: the table does not apply to them.</li> : null}
      </ul>
      {p.unsupportedPin > 0 ? (
        <div class="message error" role="alert">
          <p>
            If this table were right, {plural(p.unsupportedPin, 'device')} could not verify the certificate they pin. Check the rows for their firmware
            before saving.
          </p>
        </div>
      ) : null}
      {profiles.length > 0 ? (
        <table class="grid compact">
          <caption>Changes per profile</caption>
          <thead>
            <tr>
              <th scope="col">Profile</th>
              {CHANGE_STATS.map(([field, label]) => (
                <th scope="col" class="num" key={field}>
                  {label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {profiles.map(([profile, counts]) => (
              <tr key={profile}>
                <td class="mono">{profile}</td>
                {CHANGE_STATS.map(([field]) => (
                  <td class="num" key={field}>
                    {counts[field]}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}
