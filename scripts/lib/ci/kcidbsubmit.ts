/**
 * Sending a night's kcidb.json to KernelCI's KCIDB over its HTTP submission
 * API (kcidb-submit.mjs, the nightly workflow's publish job). KernelCI's
 * submitter guide hands a submitter a token and an endpoint, usually as
 * one URI `https://<token>@<host>/` (the KCIDB_REST variable of their own
 * tools); the data goes as `POST <host>/submit` with the token in an
 * `Authorization: Bearer` header (never in the URL) and the JSON body as
 * `application/json`; the answer to a 200 is the submission's id.
 *
 * Configured by the environment, so a CI secret carries it:
 *   KCIDB_REST    https://<token>@<host>/ (or https://<host>/ with KCIDB_TOKEN)
 *   KCIDB_TOKEN   the token, when KCIDB_REST has none
 * Neither set: nothing is sent, and the command (kcidbsubmitcmd.ts) says
 * it skipped.
 *
 * A 5xx answer or a failed connection is tried again (the service spools
 * submissions and may be restarting); a 4xx is the submission's or the
 * token's fault and is reported at once, with the service's answer.
 */
import { QkError } from '../plumbing/errors.ts';
import type { Logger } from '../plumbing/log.ts';

export interface KcidbTarget {
  /** The submission URL: <base>/submit, with no credentials in it. */
  readonly url: string;
  readonly token: string;
}

/** The submission target from the environment, or undefined when none is configured. */
export function kcidbTarget(env: NodeJS.ProcessEnv = process.env): KcidbTarget | undefined {
  const rest = env['KCIDB_REST']?.trim();
  const tokenVar = env['KCIDB_TOKEN']?.trim();
  if (!rest) {
    if (tokenVar) throw new QkError('usage-error', 'KCIDB_TOKEN is set but KCIDB_REST (the submission endpoint) is not', { hint: 'set KCIDB_REST to the https:// URL KernelCI gave, e.g. as a CI secret' });
    return undefined;
  }
  let u: URL;
  try {
    u = new URL(rest);
  } catch {
    throw new QkError('usage-error', 'KCIDB_REST is not a URL', { hint: 'it has the form https://<token>@<host>/ (or https://<host>/ with KCIDB_TOKEN)' });
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname))) {
    throw new QkError('usage-error', `KCIDB_REST must be an https:// URL, not ${u.protocol}//${u.host}/`, { hint: 'the token travels in a header: only https (or a loopback address, for tests) is allowed' });
  }
  const token = decodeURIComponent(u.username) || tokenVar;
  if (!token) throw new QkError('usage-error', `KCIDB_REST (${u.protocol}//${u.host}/) carries no token and KCIDB_TOKEN is not set`, { hint: 'KernelCI gives the token with the endpoint: https://<token>@<host>/' });
  u.username = '';
  u.password = '';
  const base = u.href.endsWith('/') ? u.href : `${u.href}/`;
  return { url: new URL('submit', base).href, token };
}

export interface SubmitOptions {
  /** Waits before each retry of a 5xx or a failed connection; their number is the number of retries. */
  readonly retryDelaysMs?: readonly number[];
  readonly timeoutMs?: number;
  readonly log?: Logger;
}

/** POST the data; the service's answer (a submission id) on success. */
export async function submitKcidb(data: unknown, target: KcidbTarget, o: SubmitOptions = {}): Promise<string> {
  const delays = o.retryDelaysMs ?? [5_000, 30_000, 120_000];
  const body = JSON.stringify(data);
  let last = '';
  for (let attempt = 0; attempt <= delays.length; attempt++) {
    if (attempt > 0) {
      o.log?.info(`KCIDB: ${last}; trying again in ${Math.round(delays[attempt - 1]! / 1000)} s (${attempt}/${delays.length})`);
      await new Promise((r) => setTimeout(r, delays[attempt - 1]));
    }
    let res: Response;
    try {
      res = await fetch(target.url, {
        method: 'POST',
        headers: { Authorization: `Bearer ${target.token}`, 'Content-Type': 'application/json' },
        body,
        signal: AbortSignal.timeout(o.timeoutMs ?? 120_000),
      });
    } catch (e) {
      last = `no answer from ${target.url} (${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message})`;
      continue;
    }
    const text = (await res.text().catch(() => '')).trim().slice(0, 2000);
    if (res.ok) return text;
    if (res.status >= 500) {
      last = `${target.url} answered ${res.status} ${res.statusText}${text ? `: ${text}` : ''}`;
      continue;
    }
    const why = res.status === 401 || res.status === 403 ? 'the token was refused: check the KCIDB_REST secret (or KCIDB_TOKEN) against what KernelCI gave' : 'the data was refused: check it with the kept schema (scripts/schemas/) and the service answer above';
    throw new QkError('usage-error', `KCIDB refused the submission: ${target.url} answered ${res.status} ${res.statusText}${text ? `: ${text}` : ''}`, { hint: why });
  }
  throw new QkError('infra-error', `KCIDB submission failed after ${delays.length + 1} attempts: ${last}`, { hint: 'the service is down or unreachable; the night is recorded, submit its kcidb.json again later: npx zx scripts/kcidb-submit.mjs <night>/kcidb.json' });
}
