/**
 * Runs `work` over `items`, at most `limit` at a time. After the first failure
 * no further item starts (`cancelled` tells running ones), the running ones
 * are waited for, so nothing is left half-done, and that failure is thrown.
 */
export async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T, cancelled: () => boolean) => Promise<void>): Promise<void> {
  const queue = [...items];
  let failure: { error: unknown } | undefined;
  const cancelled = () => failure !== undefined;
  const lanes = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let item = queue.shift(); item !== undefined && !failure; item = queue.shift()) {
      try {
        await work(item, cancelled);
      } catch (error) {
        failure ??= { error };
      }
    }
  });
  await Promise.all(lanes);
  if (failure) throw failure.error;
}
