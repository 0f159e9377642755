/**
 * One call per key at a time and per process: callers asking for the same
 * key share its promise, a failed one is forgotten so that the next caller
 * tries again. For tools built once into the work directory.
 */
export function oncePerKey<A extends unknown[], T>(fn: (key: string, ...args: A) => Promise<T>): (key: string, ...args: A) => Promise<T> {
  const running = new Map<string, Promise<T>>();
  return (key, ...args) => {
    let p = running.get(key);
    if (!p) {
      p = fn(key, ...args);
      running.set(key, p);
      p.catch(() => running.delete(key));
    }
    return p;
  };
}
