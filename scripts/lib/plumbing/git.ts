/**
 * The read-only git queries of the kit, through simple-git: which commit a
 * revision names, its subject, whether one commit is an ancestor of
 * another, how many commits a range holds, what kind of object a path is,
 * and whether a checkout is clean. Whatever changes a repository (git am,
 * git bisect run, the trees a run builds) stays on proc.ts, which kills
 * process groups and writes stage logs.
 */
import { simpleGit, type SimpleGit } from 'simple-git';

function repo(dir: string): SimpleGit {
  return simpleGit({ baseDir: dir, maxConcurrentProcesses: 2 });
}

/**
 * Run a query; undefined when git refuses (no such revision, not a
 * repository, no such directory). simple-git fails a command only when it
 * wrote to stderr: a quiet exit status 1 comes back as empty output.
 */
async function ask(dir: string, args: readonly string[]): Promise<string | undefined> {
  try {
    return (await repo(dir).raw([...args])).trim();
  } catch {
    return undefined;
  }
}

/** The commit `rev` names in `dir`, or undefined when it names none. */
export async function commitOf(dir: string, rev: string): Promise<string | undefined> {
  if (rev.startsWith('-')) return undefined;
  return (await ask(dir, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`])) || undefined;
}

/** The subject line of a commit. */
export async function subjectOf(dir: string, rev: string): Promise<string> {
  const s = await ask(dir, ['log', '-1', '--format=%s', rev, '--']);
  if (s === undefined) throw new Error(`git log ${rev} failed in ${dir}`);
  return s;
}

/** Whether `a` is an ancestor of `b` (or the same commit): their merge base is `a` itself. */
export async function isAncestor(dir: string, a: string, b: string): Promise<boolean> {
  // Not `merge-base --is-ancestor`: simple-git takes an exit status of 1 with nothing on stderr for success.
  const [base, commit] = await Promise.all([ask(dir, ['merge-base', a, b]), commitOf(dir, a)]);
  return base !== undefined && base !== '' && base === commit;
}

/** The number of commits in a range (`base..HEAD`). */
export async function commitCount(dir: string, range: string): Promise<number> {
  const n = await ask(dir, ['rev-list', '--count', range, '--']);
  if (n === undefined || !/^\d+$/.test(n)) throw new Error(`git rev-list --count ${range} failed in ${dir}`);
  return Number(n);
}

/** The type of the object `rev:path` names (tree, blob, ...), or undefined when there is none. */
export async function objectType(dir: string, spec: string): Promise<string | undefined> {
  return ask(dir, ['cat-file', '-t', spec]);
}

/** The checkout's commit, and whether tracked files differ from it; each undefined when `dir` is no git checkout. */
export async function checkoutState(dir: string): Promise<{ commit: string | undefined; dirty: boolean | undefined }> {
  const commit = await commitOf(dir, 'HEAD');
  if (commit === undefined) return { commit: undefined, dirty: undefined };
  try {
    const s = await repo(dir).status(['--untracked-files=no']);
    return { commit, dirty: !s.isClean() };
  } catch {
    return { commit, dirty: undefined };
  }
}
