/**
 * Who signs the exported patches: the exporter's git identity, and the
 * placeholder identity the kit's own commits carry, which an export
 * replaces.
 */
import { QkError } from '../plumbing/errors.ts';
import { capture } from '../plumbing/proc.ts';
import { REPO_ROOT } from '../plumbing/paths.ts';
import { GIT_IDENTITY } from '../pipeline/source.ts';

/** A person as git names one: user.name and user.email. */
export interface GitIdentity {
  readonly name: string;
  readonly email: string;
}

/** The identity the kit gives the commits it makes itself (source.ts); exported patches never carry it. */
export const PLACEHOLDER_IDENTITY: GitIdentity = { name: GIT_IDENTITY.GIT_AUTHOR_NAME, email: GIT_IDENTITY.GIT_AUTHOR_EMAIL };

export function formatIdentity(id: GitIdentity): string {
  return `${id.name} <${id.email}>`;
}

/**
 * The exporter's identity: `git config user.name` and `user.email` as git
 * looks them up in `cwd` (this repository's config, then the global one;
 * `env` may point GIT_CONFIG_GLOBAL elsewhere). Unset: a usage error.
 */
export async function gitIdentity(o: { cwd?: string; env?: Readonly<Record<string, string>> } = {}): Promise<GitIdentity> {
  const cwd = o.cwd ?? REPO_ROOT;
  const get = (key: string) => capture('git', ['config', '--get', key], { what: `git config ${key}`, cwd, ...(o.env ? { env: o.env } : {}) }).catch(() => '');
  const [name, email] = [await get('user.name'), await get('user.email')];
  const unset = [...(name ? [] : ['user.name']), ...(email ? [] : ['user.email'])];
  const hint = "set your identity: git config --global user.name 'Your Name'; git config --global user.email you@example.org";
  if (unset.length > 0) {
    throw new QkError('usage-error', `the exported patches are signed off with your git identity, and ${unset.join(' and ')} ${unset.length > 1 ? 'are' : 'is'} not set (git config in ${cwd}): ${hint}`, { hint });
  }
  if (/[<>\n]/.test(name + email)) throw new QkError('usage-error', `git identity '${name} <${email}>' cannot go into a mail header (it contains '<', '>' or a line break)`, { hint });
  return { name, email };
}
