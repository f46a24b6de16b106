/**
 * Runs at most `concurrency` of the functions given to it at once. Copying
 * thousands of small files is a chain of round trips to libuv's thread pool per
 * file; keeping many chains in flight is several times faster than one by one.
 */
export function limiter(concurrency: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active += 1;
    try {
      return await task();
    } finally {
      active -= 1;
      waiting.shift()?.();
    }
  };
}

export type Limit = ReturnType<typeof limiter>;
