// A one-line progress bar redrawn with `\r` on a terminal; plain periodic lines when the output is a pipe or
// a CI log, where carriage returns would pile up into one unreadable line.

/**
 * Where the demo writes: a stream with an optional `isTTY` flag (process.stdout fits).
 *
 * @example
 * ```ts
 * const out: Output = process.stdout
 * ```
 */
export interface Output {
  write(text: string): unknown
  readonly isTTY?: boolean
}

/**
 * What the bar shows at one moment.
 *
 * @example
 * ```ts
 * const sample: ProgressSample = { done: 500, total: 1_000, commandsPerSecond: 9_000, eventsPerSecond: 8_000 }
 * ```
 */
export interface ProgressSample {
  readonly done: number
  readonly total: number
  readonly commandsPerSecond: number
  readonly eventsPerSecond: number
}

/**
 * A progress display.
 *
 * @example
 * ```ts
 * const progress = createProgress(process.stdout, () => sample)
 * progress.finish()
 * ```
 */
export interface Progress {
  /** Draws once more and ends the line. */
  finish(): void
}

const WIDTH = 30

/**
 * Renders one line of the bar.
 *
 * @example
 * ```ts
 * renderBar({ done: 1, total: 2, commandsPerSecond: 10, eventsPerSecond: 12 })
 * // '[███████████████···············]  50%  1/2 commands  10 cmd/s  12 events/s'
 * ```
 */
export function renderBar(sample: ProgressSample): string {
  const ratio = sample.total === 0 ? 1 : Math.min(1, sample.done / sample.total)
  const filled = Math.round(ratio * WIDTH)
  const percent = `${Math.floor(ratio * 100)}%`.padStart(4)
  return `[${'█'.repeat(filled)}${'·'.repeat(WIDTH - filled)}] ${percent}  ${formatCount(sample.done)}/${formatCount(sample.total)} commands  ${formatCount(sample.commandsPerSecond)} cmd/s  ${formatCount(sample.eventsPerSecond)} events/s`
}

/**
 * Shows progress on `output` until `finish()`: redrawn every 100 ms on a terminal, one line a second
 * otherwise.
 *
 * @example
 * ```ts
 * const progress = createProgress(process.stdout, () => ({ done, total, commandsPerSecond, eventsPerSecond }))
 * ```
 */
export function createProgress(output: Output, sample: () => ProgressSample): Progress {
  const tty = output.isTTY === true
  const draw = () => {
    // \x1b[K clears what a longer previous line left behind.
    if (tty) output.write(`\r${renderBar(sample())}\x1b[K`)
    else output.write(`${renderBar(sample())}\n`)
  }
  const timer = setInterval(draw, tty ? 100 : 1_000)
  return {
    finish() {
      clearInterval(timer)
      draw()
      if (tty) output.write('\n')
    },
  }
}

/**
 * A whole number with thousands separators.
 *
 * @example
 * ```ts
 * formatCount(12345.6) // '12,346'
 * ```
 */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US')
}

/**
 * Cents as an amount with two decimals.
 *
 * @example
 * ```ts
 * formatMoney(123456) // '1,234.56'
 * ```
 */
export function formatMoney(cents: number): string {
  return (cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })
}
