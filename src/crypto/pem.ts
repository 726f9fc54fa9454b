/**
 * PEM (RFC 7468) in and out. Text around the blocks (the "Bag Attributes" lines `openssl pkcs12`
 * prints, comments) is ignored, as openssl does. Headers (RFC 1421 `Proc-Type`, `DEK-Info` of
 * traditionally encrypted keys) are kept, because the key decryption needs them.
 */

export interface PemBlock {
  /** The label between `BEGIN ` and the dashes, e.g. `CERTIFICATE`, `ENCRYPTED PRIVATE KEY`. */
  readonly label: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly der: Buffer;
  /** The block exactly as it stood in the text (headers included), for parsers that want PEM. */
  readonly text: string;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
const BASE64 = /^[A-Za-z0-9+/=\s]*$/;

export function toPem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Every PEM block in the text, in order. Blocks whose body is not base64 are skipped. */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const label = m[1] as string; // group 1 always matches
    const body = m[2] as string;
    const headers: Record<string, string> = {};
    let base64 = body;
    // headers end at the first blank line; found with one scan (a regular expression with two lazy
    // groups here took time quadratic in a hostile body)
    const blank = /^[A-Za-z-]+:/.test(body) ? /\r?\n\r?\n/.exec(body) : null;
    if (blank) {
      for (const line of body.slice(0, blank.index).split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
      }
      base64 = body.slice(blank.index + blank[0].length);
    }
    if (!BASE64.test(base64)) continue;
    blocks.push({ label, headers, der: Buffer.from(base64.replace(/\s+/g, ''), 'base64'), text: m[0] });
  }
  return blocks;
}

/** The DER of the first block with the label (any label when none is given), or null. */
export function pemToDer(text: string, label?: string): Buffer | null {
  const block = pemBlocks(text).find((b) => label === undefined || b.label === label);
  return block ? block.der : null;
}

/** Whether the bytes look like PEM text (a BEGIN line near the start, printable text). */
export function looksLikePem(bytes: Buffer): boolean {
  const head = bytes.subarray(0, 64 * 1024).toString('latin1');
  return /-----BEGIN [A-Z0-9 ]+-----/.test(head);
}
