import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { ErrorMessage } from './error-message';

/**
 * A modal dialog on the native <dialog>: focus moves into it and back, Escape closes it, and the
 * rest of the page is inert while it is open.
 */
export function Dialog(props: {
  readonly title: string;
  readonly onClose: () => void;
  readonly children: ComponentChildren;
  readonly wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => {
      if (dialog?.open) dialog.close();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      class={props.wide ? 'wide' : undefined}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <header class="dialog-head">
        <h2 id={titleId}>{props.title}</h2>
        <button type="button" class="close" aria-label="Close" onClick={props.onClose}>
          ×
        </button>
      </header>
      <div class="dialog-body">{props.children}</div>
    </dialog>
  );
}

/** Runs an action (a dialog's or a form's), keeping its refusal on screen until the next try. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

/** The buttons at the foot of a dialog's form: submit, then Cancel. */
export function DialogButtons(props: {
  readonly submit: string;
  readonly busy: boolean;
  readonly busyText?: string;
  readonly danger?: boolean;
  readonly disabled?: boolean;
  readonly onClose: () => void;
}) {
  return (
    <div class="dialog-buttons">
      {props.busy ? (
        <span class="busy" role="status">
          {props.busyText ?? 'Working…'}
        </span>
      ) : null}
      <button type="submit" class={props.danger ? 'danger' : 'primary'} disabled={props.busy || props.disabled}>
        {props.submit}
      </button>
      <button type="button" onClick={props.onClose}>
        Cancel
      </button>
    </div>
  );
}

/** "Are you sure?" for a change that cannot be undone; the server's refusal, if any, stays in the dialog. */
export function ConfirmDialog(props: {
  readonly title: string;
  readonly confirm: string;
  readonly busyText?: string;
  readonly onConfirm: () => Promise<void>;
  readonly onClose: () => void;
  readonly children: ComponentChildren;
}) {
  const { busy, error, run } = useAction();
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          void run(props.onConfirm);
        }}
      >
        {props.children}
        <ErrorMessage error={error} />
        <DialogButtons submit={props.confirm} danger busy={busy} {...(props.busyText ? { busyText: props.busyText } : {})} onClose={props.onClose} />
      </form>
    </Dialog>
  );
}
