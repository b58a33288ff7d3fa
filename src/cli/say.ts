import { terminalSafe } from '../report/common.js';

/** Writes `hyperward: MESSAGE` on stderr, control characters (from file names, image content) made visible. */
export function say(message: string): void {
  process.stderr.write(`hyperward: ${terminalSafe(message)}\n`);
}

/** `hyperward: warning: MESSAGE`, as `say`. */
export function warn(message: string): void {
  say(`warning: ${message}`);
}
