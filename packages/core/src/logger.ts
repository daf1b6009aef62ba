/** Where statesource reports what it cannot throw (a failing listener, tap or snapshot write). */
export interface Logger {
  debug?(message: string, details?: Record<string, unknown>): void
  info?(message: string, details?: Record<string, unknown>): void
  warn(message: string, details?: Record<string, unknown>): void
  error(message: string, details?: Record<string, unknown>): void
}

/** The default logger: `console.warn` / `console.error`, prefixed with `[statesource]`. */
export const consoleLogger: Logger = {
  warn: (message, details) => console.warn(`[statesource] ${message}`, details ?? ''),
  error: (message, details) => console.error(`[statesource] ${message}`, details ?? ''),
}

/** A logger that drops everything (for benchmarks and tests that assert through other means). */
export const silentLogger: Logger = { warn: () => {}, error: () => {} }
