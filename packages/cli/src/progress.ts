/**
 * A one-line progress bar on stderr. On a terminal it redraws in place; elsewhere (CI logs)
 * it prints a line at every 10% so logs stay short.
 */
export class ProgressBar {
  #done = 0;
  #lastDecile = -1;
  readonly #tty = process.stderr.isTTY === true;

  constructor(readonly total: number, readonly label: string) {}

  tick(detail = ''): void {
    this.#done++;
    const fraction = this.total === 0 ? 1 : this.#done / this.total;
    if (this.#tty) {
      const width = 30;
      const filled = Math.round(fraction * width);
      const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
      process.stderr.write(`\r${this.label} [${bar}] ${this.#done}/${this.total} ${detail}`.slice(0, 120).padEnd(120));
    } else {
      const decile = Math.floor(fraction * 10);
      if (decile !== this.#lastDecile) {
        this.#lastDecile = decile;
        process.stderr.write(`${this.label}: ${this.#done}/${this.total}\n`);
      }
    }
  }

  finish(): void {
    if (this.#tty) process.stderr.write('\n');
  }
}
