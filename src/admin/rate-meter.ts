/** Events per second over a sliding window of whole seconds (the current one excluded). */
export interface RateMeter {
  mark(now: number): void;
  /** Average events per second over the last `windowSeconds` complete seconds. */
  rate(now: number): number;
}

export const createRateMeter = (windowSeconds = 5): RateMeter => {
  // One bucket per second, for the window plus the second in progress.
  const size = windowSeconds + 1;
  const counts = new Array<number>(size).fill(0);
  const stamps = new Array<number>(size).fill(-1);
  const bucket = (second: number): number => second % size;
  return {
    mark(now) {
      const second = Math.floor(now / 1000);
      const i = bucket(second);
      if (stamps[i] !== second) {
        stamps[i] = second;
        counts[i] = 0;
      }
      counts[i] = (counts[i] as number) + 1;
    },
    rate(now) {
      const current = Math.floor(now / 1000);
      let total = 0;
      for (let s = current - windowSeconds; s < current; s += 1) {
        const i = bucket(s);
        if (stamps[i] === s) total += counts[i] as number;
      }
      return total / windowSeconds;
    },
  };
};
