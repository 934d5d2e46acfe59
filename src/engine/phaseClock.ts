import type { CookPhase, CookProgress } from './cookPlan';

/**
 * The wall time of each phase of a cook, and its progress events: every event carries the
 * phase the clock is in, and the time from {@link enter} to the next one is added to
 * `timings[phase]` (the report's `timingsMs`).
 */
export class PhaseClock {
  /** Milliseconds per phase, filled as phases end. */
  readonly timings: Record<string, number> = {};
  private current: CookPhase;
  private started: number;

  constructor(
    private readonly onProgress?: (p: CookProgress) => void,
    first: CookPhase = 'scan',
    private readonly now: () => number = Date.now,
  ) {
    this.current = first;
    this.started = now();
  }

  get phase(): CookPhase {
    return this.current;
  }

  /** Ends the current phase and starts `next`. */
  enter(next: CookPhase): void {
    this.stop();
    this.current = next;
  }

  /** Adds the time since the phase (or the last stop) began to the current phase. */
  stop(): void {
    const t = this.now();
    this.timings[this.current] = (this.timings[this.current] ?? 0) + t - this.started;
    this.started = t;
  }

  /** Emits a progress event of the current phase. */
  progress(done: number, total: number, message: string): void {
    // Run ids are folder names and may hold line breaks: one event is one line in every log.
    this.onProgress?.({ phase: this.current, done, total, message: message.replace(/[\r\n]+/g, '⏎') });
  }
}
