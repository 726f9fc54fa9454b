/** The dialogs of the Certificate Management screen, one per action of SPEC section 1. */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, download, enc, get, getText } from '../../api';
import { ConfirmDialog, Dialog, DialogButtons, useAction } from '../../components/dialog';
import { ErrorMessage } from '../../components/error-message';
import { formatDateTime, plural } from '../../format';
import type {
  CertificateContent,
  CertificateSummary,
  DefaultPreview,
  ExportKeyPairBody,
  GenerateCertificateBody,
  ImportCertificateBody,
  ImportedCertificate,
} from '../../types';

/** Devices per firmware profile, as the preview counts them. */
type CountsByProfile = DefaultPreview['switching']['byProfile'];

const ALIAS_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const MAX_KEYSTORE_BYTES = 1024 * 1024;
const MIN_EXPORT_PASSWORD = 8;

interface Closeable {
  readonly onClose: () => void;
}

function readAsBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      resolve(url.slice(url.indexOf(',') + 1));
    };
    reader.onerror = () => reject(new Error(`The file "${file.name}" cannot be read.`));
    reader.readAsDataURL(file);
  });
}

/** A first alias from the file name: the name without extension, with other characters as hyphens. */
function aliasFromFileName(name: string): string {
  return name.replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 64);
}

export function ImportDialog(props: Closeable & { readonly onDone: (c: ImportedCertificate) => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [password, setPassword] = useState('');
  const [noPassword, setNoPassword] = useState(false);
  const [keyPassword, setKeyPassword] = useState('');
  const [alias, setAlias] = useState('');
  const [entries, setEntries] = useState<readonly string[] | null>(null);
  const [entry, setEntry] = useState('');
  const { busy, error, setError, run } = useAction();

  const submit = (e: Event) => {
    e.preventDefault();
    if (!file) return setError(new Error('Choose the keystore file to import.'));
    if (file.size > MAX_KEYSTORE_BYTES) return setError(new Error(`"${file.name}" is larger than 1 MiB; certfleet imports keystore files of up to 1 MiB.`));
    void run(async () => {
      try {
        const created = await api<ImportedCertificate>('POST', '/certificates/import', {
          alias,
          file: await readAsBase64(file),
          // the server tries the empty password both ways PKCS#12 readers do (two zero bytes, no bytes)
          password: noPassword ? '' : password,
          ...(keyPassword ? { keyPassword } : {}),
          ...(entries && entry ? { entry } : {}),
        } satisfies ImportCertificateBody);
        props.onDone(created);
      } catch (err) {
        if (err instanceof ApiError && (err.code === 'entry_required' || err.code === 'entry_not_found')) {
          const names = Array.isArray(err.details['entries']) ? err.details['entries'].filter((n): n is string => typeof n === 'string') : [];
          if (names.length > 0) {
            setEntries(names);
            setEntry((current) => (names.includes(current) ? current : (names[0] ?? '')));
          }
        }
        throw err;
      }
    });
  };

  return (
    <Dialog title="Import a certificate" onClose={props.onClose}>
      <form onSubmit={submit} class="form">
        <p class="hint">
          A key entry from a PKCS#12 (.p12, .pfx), JKS or PEM keystore of up to 1 MiB. Certificate chains, MD5 and other signature algorithms off the
          allow-list, expired certificates and RSA keys under 2048 bits are refused.
        </p>
        <label>
          Keystore file
          <input
            type="file"
            accept=".p12,.pfx,.jks,.keystore,.pem,.crt,.key"
            required
            onChange={(e) => {
              const chosen = e.currentTarget.files?.[0] ?? null;
              setFile(chosen);
              setEntries(null);
              if (chosen && !alias) setAlias(aliasFromFileName(chosen.name));
            }}
          />
        </label>
        <label class="inline">
          <input type="checkbox" checked={noPassword} onChange={(e) => setNoPassword(e.currentTarget.checked)} />
          <span>
            This file has no password <span class="optional">(a Windows export without one, a PEM file with a plain key)</span>
          </span>
        </label>
        <label>
          Keystore password
          <input
            type="password"
            autocomplete="off"
            disabled={noPassword}
            value={noPassword ? '' : password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <label>
          Key password <span class="optional">(JKS only, when it differs from the keystore password)</span>
          <input type="password" autocomplete="off" value={keyPassword} onInput={(e) => setKeyPassword(e.currentTarget.value)} />
        </label>
        {entries ? (
          <label>
            Entry
            <select value={entry} onChange={(e) => setEntry(e.currentTarget.value)}>
              {entries.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <label>
          Alias
          <input type="text" required pattern="[A-Za-z0-9._\-]{1,64}" value={alias} onInput={(e) => setAlias(e.currentTarget.value)} />
          <span class="hint">1 to 64 letters, digits, dots, underscores or hyphens.</span>
        </label>
        <ErrorMessage error={error} />
        <DialogButtons submit="Import" busy={busy} busyText="Importing…" onClose={props.onClose} />
      </form>
    </Dialog>
  );
}

export const GENERATION_ALGORITHMS = [
  { name: 'SHA512withRSA', label: 'SHA512withRSA (default)' },
  { name: 'SHA384withRSA', label: 'SHA384withRSA' },
  { name: 'SHA256withRSA', label: 'SHA256withRSA' },
  { name: 'SHA256withECDSA', label: 'SHA256withECDSA (P-256)' },
  { name: 'SHA384withECDSA', label: 'SHA384withECDSA (P-384)' },
] as const;
const RSA_KEY_SIZES = [4096, 3072, 2048] as const;

export function GenerateDialog(props: Closeable & { readonly onDone: (c: CertificateSummary) => void }) {
  const [alias, setAlias] = useState('');
  const [commonName, setCommonName] = useState('');
  const [algorithm, setAlgorithm] = useState<string>('SHA512withRSA');
  const [keySize, setKeySize] = useState(4096);
  const [days, setDays] = useState(3650);
  const { busy, error, setError, run } = useAction();
  const ecdsa = algorithm.endsWith('ECDSA');

  const submit = (e: Event) => {
    e.preventDefault();
    if (!ALIAS_PATTERN.test(alias)) return setError(new Error('An alias is 1 to 64 letters, digits, dots, underscores or hyphens.'));
    void run(async () => {
      props.onDone(
        await api<CertificateSummary>('POST', '/certificates', {
          alias,
          ...(commonName.trim() ? { commonName: commonName.trim() } : {}),
          signatureAlgorithm: algorithm,
          ...(ecdsa ? {} : { keySize }),
          days,
        } satisfies GenerateCertificateBody),
      );
    });
  };

  return (
    <Dialog title="Generate a certificate" onClose={props.onClose}>
      <form onSubmit={submit} class="form">
        <p class="hint">A new key pair and a self-signed certificate. It is added at the bottom of the list, active.</p>
        <label>
          Alias
          <input type="text" required value={alias} onInput={(e) => setAlias(e.currentTarget.value)} />
        </label>
        <label>
          Common name (CN)
          <input type="text" value={commonName} placeholder="the server's host name" onInput={(e) => setCommonName(e.currentTarget.value)} />
        </label>
        <label>
          Signature algorithm
          <select value={algorithm} onChange={(e) => setAlgorithm(e.currentTarget.value)}>
            {GENERATION_ALGORITHMS.map((a) => (
              <option key={a.name} value={a.name}>
                {a.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Key size
          <select value={String(keySize)} disabled={ecdsa} onChange={(e) => setKeySize(Number(e.currentTarget.value))}>
            {RSA_KEY_SIZES.map((s) => (
              <option key={s} value={String(s)}>
                RSA {s} bits
              </option>
            ))}
          </select>
          {ecdsa ? <span class="hint">ECDSA keys use the curve of the algorithm.</span> : null}
        </label>
        <label>
          Validity (days)
          <input type="number" min={1} max={36500} required value={days} onInput={(e) => setDays(Number(e.currentTarget.value))} />
        </label>
        <ErrorMessage error={error} />
        <DialogButtons submit="Generate" busy={busy} busyText="Generating the key pair…" onClose={props.onClose} />
      </form>
    </Dialog>
  );
}

export function DeleteDialog(props: Closeable & { readonly certificate: CertificateSummary; readonly onDone: () => void }) {
  const c = props.certificate;
  const users = c.deviceCount + c.pendingDeviceCount;
  return (
    <ConfirmDialog
      title={`Delete "${c.alias}"`}
      confirm="Delete"
      busyText="Deleting…"
      onClose={props.onClose}
      onConfirm={async () => {
        await api<void>('DELETE', `/certificates/${enc(c.alias)}`);
        props.onDone();
      }}
    >
      <p>
        Delete the certificate <strong>{c.alias}</strong> ({c.subject}) and its private key? This cannot be undone.
      </p>
      <p class="hint">
        {users > 0
          ? `${plural(users, 'device')} use${users === 1 ? 's' : ''} it. A certificate that a device uses cannot be deleted, or the device would lose contact.`
          : 'No device uses it.'}
      </p>
    </ConfirmDialog>
  );
}

function ProfileCounts(props: { readonly counts: CountsByProfile; readonly caption: string }) {
  const rows = Object.entries(props.counts).sort(([a], [b]) => a.localeCompare(b));
  if (rows.length === 0) return null;
  return (
    <table class="grid compact">
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">Profile</th>
          <th scope="col" class="num">
            Devices
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map(([profile, n]) => (
          <tr key={profile}>
            <td>{profile}</td>
            <td class="num">{n}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function MakeDefaultDialog(props: Closeable & { readonly certificate: CertificateSummary; readonly onDone: (list: readonly CertificateSummary[]) => void }) {
  const c = props.certificate;
  const [preview, setPreview] = useState<DefaultPreview | null>(null);
  const [previewError, setPreviewError] = useState<unknown>(null);
  const { busy, error, run } = useAction();
  useEffect(() => {
    get<DefaultPreview>(`/certificates/${enc(c.alias)}/default-preview`).then(setPreview, setPreviewError);
  }, [c.alias]);

  return (
    <Dialog title={`Make "${c.alias}" the default`} onClose={props.onClose} wide>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => props.onDone(await api<CertificateSummary[]>('POST', `/certificates/${enc(c.alias)}/make-default`)));
        }}
      >
        <p>
          <strong>{c.alias}</strong> ({c.signatureAlgorithm}) moves to the top of the list. New devices get it, and every registered device whose
          firmware supports it is moved to it in the background, without losing contact.
        </p>
        {preview ? (
          <div class="preview" aria-label="Preview">
            <div class="preview-col">
              <h3>
                Switching: {plural(preview.switching.total, 'device')}
              </h3>
              <p class="hint">They support {c.signatureAlgorithm} and get it as a pending replacement.</p>
              <ProfileCounts counts={preview.switching.byProfile} caption="Switching, per profile" />
            </div>
            <div class="preview-col">
              <h3>
                Staying: {plural(preview.staying.total, 'device')}
              </h3>
              <p class="hint">
                {preview.staying.total > 0
                  ? `Their firmware lacks ${preview.staying.lacking}: they keep their certificate.`
                  : 'Every registered device supports it.'}
              </p>
              <ProfileCounts counts={preview.staying.byProfile} caption="Staying, per profile" />
            </div>
            <p class="preview-foot">Already using it: {plural(preview.alreadyCurrent, 'device')}.</p>
          </div>
        ) : previewError ? (
          <>
            <p>The preview could not be loaded:</p>
            <ErrorMessage error={previewError} />
          </>
        ) : (
          <p role="status">Loading the preview…</p>
        )}
        <ErrorMessage error={error} />
        <DialogButtons submit="Make default" busy={busy} busyText="Changing the default…" disabled={!preview && !previewError} onClose={props.onClose} />
      </form>
    </Dialog>
  );
}

export function ExportCertificateDialog(props: Closeable & { readonly certificate: CertificateSummary }) {
  const c = props.certificate;
  const [format, setFormat] = useState<'pem' | 'der'>('pem');
  const { busy, error, run } = useAction();
  return (
    <Dialog title={`Export the certificate "${c.alias}"`} onClose={props.onClose}>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            await download('GET', `/certificates/${enc(c.alias)}/export?format=${format}`);
            props.onClose();
          });
        }}
      >
        <p class="hint">The certificate alone, without its private key.</p>
        <fieldset>
          <legend>Format</legend>
          <label class="inline">
            <input type="radio" name="format" value="pem" checked={format === 'pem'} onChange={() => setFormat('pem')} /> PEM (.pem, Base64 text)
          </label>
          <label class="inline">
            <input type="radio" name="format" value="der" checked={format === 'der'} onChange={() => setFormat('der')} /> DER (.cer, binary)
          </label>
        </fieldset>
        <ErrorMessage error={error} />
        <DialogButtons submit="Download" busy={busy} onClose={props.onClose} />
      </form>
    </Dialog>
  );
}

export function ExportKeyPairDialog(props: Closeable & { readonly certificate: CertificateSummary }) {
  const c = props.certificate;
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const { busy, error, setError, run } = useAction();
  return (
    <Dialog title={`Export the key pair of "${c.alias}"`} onClose={props.onClose}>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          if (password.length < MIN_EXPORT_PASSWORD) return setError(new Error(`The password must be at least ${MIN_EXPORT_PASSWORD} characters long.`));
          if (password !== repeat) return setError(new Error('The two passwords differ.'));
          void run(async () => {
            await download('POST', `/certificates/${enc(c.alias)}/export-keypair`, { password } satisfies ExportKeyPairBody);
            props.onClose();
          });
        }}
      >
        <p class="hint">
          The certificate and its private key as a PKCS#12 file (.p12) protected by this password; openssl and Java keytool read it. The export is
          written to the audit log.
        </p>
        <label>
          Password
          <input type="password" autocomplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <label>
          Repeat the password
          <input type="password" autocomplete="new-password" value={repeat} onInput={(e) => setRepeat(e.currentTarget.value)} />
        </label>
        <ErrorMessage error={error} />
        <DialogButtons submit="Export" busy={busy} busyText="Exporting…" onClose={props.onClose} />
      </form>
    </Dialog>
  );
}

/** An extension's value as the server reads it: text, a list, or named fields. */
function Value({ value }: { readonly value: unknown }) {
  if (value === null || value === undefined) return <span>—</span>;
  if (Array.isArray(value)) {
    return (
      <ul class="plain">
        {value.map((v, i) => (
          <li key={i}>
            <Value value={v} />
          </li>
        ))}
      </ul>
    );
  }
  if (typeof value === 'object') {
    return (
      <dl class="fields">
        {Object.entries(value).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>
              <Value value={v} />
            </dd>
          </div>
        ))}
      </dl>
    );
  }
  return <span class="mono-wrap">{String(value)}</span>;
}

export function ContentDialog(props: Closeable & { readonly certificate: CertificateSummary }) {
  const alias = props.certificate.alias;
  const [content, setContent] = useState<CertificateContent | null>(null);
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<CertificateContent>(`/certificates/${enc(alias)}/content`).then(setContent, setError);
  }, [alias]);
  const showText = () => {
    getText(`/certificates/${enc(alias)}/content?format=text`).then(setText, setError);
  };
  const c = content;
  return (
    <Dialog title={`Content of "${alias}"`} onClose={props.onClose} wide>
      <ErrorMessage error={error} />
      {!c && !error ? <p role="status">Loading…</p> : null}
      {c ? (
        <div class="content">
          <dl class="fields">
            <div>
              <dt>Version</dt>
              <dd>{c.version}</dd>
            </div>
            <div>
              <dt>Serial number</dt>
              <dd class="mono-wrap">{c.serialNumber}</dd>
            </div>
            <div>
              <dt>Signature algorithm</dt>
              <dd>
                {c.signatureAlgorithm.name} <span class="oid">({c.signatureAlgorithm.oid})</span>
              </dd>
            </div>
            <div>
              <dt>Issuer</dt>
              <dd>{c.issuer.name}</dd>
            </div>
            <div>
              <dt>Subject</dt>
              <dd>{c.subject.name}</dd>
            </div>
            <div>
              <dt>Valid from</dt>
              <dd>{formatDateTime(c.validity.notBefore)}</dd>
            </div>
            <div>
              <dt>Valid until</dt>
              <dd>{formatDateTime(c.validity.notAfter)}</dd>
            </div>
            <div>
              <dt>Public key</dt>
              <dd>
                {c.publicKey.algorithm}, {c.publicKey.size} bits{c.publicKey.curve ? `, curve ${c.publicKey.curve}` : ''}
                {c.publicKey.exponent !== null ? `, exponent ${c.publicKey.exponent}` : ''} <span class="oid">({c.publicKey.oid})</span>
              </dd>
            </div>
            <div>
              <dt>Public key SHA-256</dt>
              <dd class="mono-wrap">{c.publicKey.sha256}</dd>
            </div>
            <div>
              <dt>SHA-1 fingerprint</dt>
              <dd class="mono-wrap">{c.fingerprints.sha1}</dd>
            </div>
            <div>
              <dt>SHA-256 fingerprint</dt>
              <dd class="mono-wrap">{c.fingerprints.sha256}</dd>
            </div>
          </dl>
          <h3>Extensions ({c.extensions.length})</h3>
          {c.extensions.length === 0 ? (
            <p>None.</p>
          ) : (
            <table class="grid compact">
              <thead>
                <tr>
                  <th scope="col">Extension</th>
                  <th scope="col">Critical</th>
                  <th scope="col">Value</th>
                </tr>
              </thead>
              <tbody>
                {c.extensions.map((x) => (
                  <tr key={x.oid}>
                    <td>
                      {x.name ?? 'Unknown extension'} <span class="oid">({x.oid})</span>
                    </td>
                    <td>{x.critical ? 'yes' : 'no'}</td>
                    <td>
                      <Value value={x.value} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h3>Certificate (PEM)</h3>
          <pre class="pem">{c.pem}</pre>
          {text !== null ? (
            <>
              <h3>As text</h3>
              <pre class="pem" role="region" tabIndex={0} aria-label="The certificate as text">
                {text}
              </pre>
            </>
          ) : null}
        </div>
      ) : null}
      <div class="dialog-buttons">
        {c && text === null ? (
          <button type="button" onClick={showText}>
            Show as text
          </button>
        ) : null}
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
