import { eachLimited } from '../../src/files/each-limited.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('eachLimited', () => {
  it('runs every item, never more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await eachLimited([1, 2, 3, 4, 5], 2, async (item) => {
      running += 1;
      most = Math.max(most, running);
      await tick(5);
      done.push(item);
      running -= 1;
    });
    expect(done.sort()).toEqual([1, 2, 3, 4, 5]);
    expect(most).toBe(2);
  });

  it('after a failure starts nothing more, waits for the running item, then throws the first failure', async () => {
    const started: number[] = [];
    let slowFinished = false;
    let sawCancel = false;
    const run = eachLimited([1, 2, 3, 4], 2, async (item, cancelled) => {
      started.push(item);
      if (item === 1) {
        await tick(30);
        sawCancel = cancelled();
        slowFinished = true;
        return;
      }
      await tick(5);
      throw new Error(`item ${item} failed`);
    });
    await expect(run).rejects.toThrow('item 2 failed');
    expect(slowFinished).toBe(true);
    expect(sawCancel).toBe(true);
    expect(started).toEqual([1, 2]);
  });
});
