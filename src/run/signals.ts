import os from 'node:os';
import { UsageError } from '../errors.js';

/** "TERM", "SIGTERM", "15" → "SIGTERM"; anything else is a usage error naming `flag`. */
export function parseSignal(value: string, flag: string): NodeJS.Signals {
  const signals = os.constants.signals as Record<string, number>;
  if (/^\d+$/.test(value)) {
    const name = Object.keys(signals).find((n) => signals[n] === Number(value));
    if (name) return name as NodeJS.Signals;
  } else {
    const name = value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`;
    if (name in signals) return name as NodeJS.Signals;
  }
  throw new UsageError(`Unknown signal "${value}" (from ${flag}); use a name like TERM, SIGKILL or HUP, or a number.`);
}
