import { terminalSafe } from '../report/common.js';

/** A one-line progress bar on stderr, drawn only when stderr is a terminal and not `--quiet`. */
export class Progress {
  private readonly enabled: boolean;
  private last = 0;

  constructor(
    private readonly label: string,
    public total: number,
    quiet = false,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.enabled = !quiet && stream.isTTY === true;
  }

  update(done: number, note = ''): void {
    if (!this.enabled || this.total <= 0) return;
    const now = Date.now();
    if (now - this.last < 100 && done < this.total) return;
    this.last = now;
    const width = 30;
    const frac = Math.min(1, done / this.total);
    const filled = Math.round(frac * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const cols = this.stream.columns ?? 80;
    const line = terminalSafe(`${this.label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${note}`);
    this.stream.write(`\r${line.slice(0, cols - 1).padEnd(cols - 1)}`);
  }

  done(): void {
    if (this.enabled) this.stream.write(`\r${' '.repeat((this.stream.columns ?? 80) - 1)}\r`);
  }
}
