import { ApiError } from '../api';

/** An API refusal as a person reads it: the message, and the stable code in small print. */
export function ErrorMessage({ error }: { readonly error: unknown }) {
  if (error === null || error === undefined) return null;
  const api = error instanceof ApiError ? error : null;
  const message = api?.message ?? (error instanceof Error ? error.message : String(error));
  return (
    <div class="message error" role="alert">
      <p>{message}</p>
      {api && api.code !== 'network' ? <small class="code">Error code: {api.code}</small> : null}
    </div>
  );
}

/** A short confirmation of what just happened. */
export function Notice({ text }: { readonly text: string | null }) {
  if (!text) return null;
  return (
    <div class="message notice" role="status">
      <p>{text}</p>
    </div>
  );
}
