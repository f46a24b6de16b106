/**
 * What the builds of one multi-platform build share: the numbering of steps
 * in the progress output, and steps being carried out. Two targets whose
 * steps have the same cache key (a `FROM --platform=$BUILDPLATFORM` stage that
 * does not read $TARGETARCH) would otherwise run them twice at once; the
 * second waits for the first and then finds the result in the cache, so the
 * stage runs once and both targets use it.
 */
import type { CachedStep } from './cache/build-cache.js';

export class SharedBuildWork {
  /** Layer steps carried out by this build, by cache key: another target takes them as they are. */
  readonly produced = new Map<string, CachedStep>();
  private steps = 0;
  private readonly running = new Map<string, Promise<void>>();

  nextStepNumber(): number {
    this.steps += 1;
    return this.steps;
  }

  /**
   * Waits while another target carries out the step of `key`, then claims it:
   * the caller looks it up in the cache and carries it out when missing, and
   * calls the function returned when done either way.
   */
  async claim(key: string): Promise<() => void> {
    for (let busy = this.running.get(key); busy; busy = this.running.get(key)) await busy;
    let release!: () => void;
    this.running.set(key, new Promise<void>((resolve) => (release = resolve)));
    return () => {
      this.running.delete(key);
      release();
    };
  }
}
