/**
 * Rewriting the mail headers and sign-offs of format-patch files, so that
 * an exported patch is from, and signed off by, the exporter rather than
 * the kit's placeholder identity. Text in, text out; the diff is never
 * touched.
 */
import { PLACEHOLDER_IDENTITY, formatIdentity, type GitIdentity } from './identity.ts';

/** A mail header with its folded continuation lines: `^Name: ...`. */
const headerRe = (name: string): RegExp => new RegExp(`^${name}: .*(?:\\n[ \\t].*)*$`, 'm');

/** The header `name` (with its folded lines) of a mail's header block. */
export function mailHeader(mail: string, name: string): string | undefined {
  return headerRe(name).exec(mail.split('\n\n')[0] ?? '')?.[0];
}

/** Replace mail headers (with their folded continuation lines) by the source's. */
export function copyHeaders(target: string, source: string, names: readonly string[]): string {
  let out = target;
  for (const n of names) {
    const h = headerRe(n).exec(source)?.[0];
    if (h) out = out.replace(headerRe(n), h);
  }
  return out;
}

const TRAILER = /^[A-Za-z0-9-]+: \S/;
const MIME_HEADERS = ['MIME-Version: 1.0', 'Content-Type: text/plain; charset=UTF-8', 'Content-Transfer-Encoding: 8bit'];

/**
 * Give one exported patch the exporter `me` where it has the kit's
 * placeholder identity: the From: header (replaced by `from`, git's
 * rendering of `me`, when given) and Signed-off-by lines of the commit
 * message. Other people's trailers stay as they are; a message without
 * any Signed-off-by gets the exporter's, last, before the `---` line.
 * Only the mail headers and the message are touched, never the diff.
 */
export function signPatch(text: string, me: GitIdentity, from: string | undefined): string {
  const headerEnd = text.indexOf('\n\n');
  const dashes = text.indexOf('\n---\n', headerEnd);
  if (headerEnd < 0 || dashes < 0) return text;
  let head = text.slice(0, headerEnd);
  const fromHeader = mailHeader(head, 'From');
  if (from && fromHeader && fromHeader.replace(/\n[ \t]+/g, ' ') === `From: ${formatIdentity(PLACEHOLDER_IDENTITY)}`) head = head.replace(fromHeader, from);
  const mine = `Signed-off-by: ${formatIdentity(me)}`;
  const placeholder = `Signed-off-by: ${formatIdentity(PLACEHOLDER_IDENTITY)}`;
  // The message: from the blank line after the headers to the "---" line.
  let msg = text.slice(headerEnd + 1, dashes + 1).split('\n').slice(0, -1);
  msg = msg.includes(mine) ? msg.filter((l) => l.trimEnd() !== placeholder) : msg.map((l) => (l.trimEnd() === placeholder ? mine : l));
  if (!msg.some((l) => /^Signed-off-by:/i.test(l))) {
    const para = msg.slice(msg.lastIndexOf('') + 1);
    msg.push(...(para.length === 0 || para.every((l) => TRAILER.test(l)) ? [mine] : ['', mine]));
  }
  const body = `${msg.join('\n')}\n${text.slice(dashes + 1)}`;
  // git writes these headers when a message is not ASCII; a new sign-off may have made it so.
  if (/[^\x00-\x7f]/.test(msg.join('\n')) && !/^Content-Type:/im.test(head)) head = [head, ...MIME_HEADERS].join('\n');
  return `${head}\n${body}`;
}
