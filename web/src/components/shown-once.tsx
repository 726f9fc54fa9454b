import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

/**
 * A secret the server shows only once (an API token, an enrollment token): the text in a
 * read-only field, a Copy button, and Done. `children` say what the secret is for.
 */
export function ShownOnce(props: {
  readonly title: string;
  /** The field's accessible name, e.g. "API token". */
  readonly label: string;
  readonly secret: string;
  readonly onDismiss: () => void;
  readonly children: ComponentChildren;
}) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied('Copied to the clipboard.');
    } catch {
      setCopied('The browser did not allow copying: select the token and copy it by hand.');
    }
  };
  return (
    <section class="issued" aria-labelledby="issued-title">
      <h2 id="issued-title">{props.title}</h2>
      {props.children}
      <div class="token-row">
        <label class="token-label">
          <span class="sr-only">{props.label}</span>
          <input class="token" type="text" readOnly value={props.secret} size={56} onFocus={(e) => e.currentTarget.select()} />
        </label>
        <button type="button" class="primary" onClick={copy}>
          Copy
        </button>
        <button type="button" onClick={props.onDismiss}>
          Done
        </button>
      </div>
      {copied ? (
        <p role="status" class="hint">
          {copied}
        </p>
      ) : null}
    </section>
  );
}
