const BRAND = Symbol.for('statesource.error')

/**
 * Every error code statesource raises. Callers match on `error.code`; the docs page
 * "Error handling" says what each one means and what to do about it.
 */
export type StatesourceErrorCode =
  | 'CONCURRENCY_CONFLICT'
  | 'COMMAND_REJECTED'
  | 'UNKNOWN_COMMAND'
  | 'INVALID_INPUT'
  | 'IDEMPOTENCY_CONFLICT'
  | 'SERIALIZATION_FAILED'
  | 'UNKNOWN_MANIFEST'
  | 'RECOVERY_FAILED'
  | 'AGGREGATE_FAILING'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'JOURNAL_FAILURE'
  | 'JOURNAL_OUTCOME_UNKNOWN'
  | 'SNAPSHOT_FAILURE'
  | 'NOT_CONFIGURED'
  | 'INVALID_AGGREGATE'
  | 'GATEWAY_STOPPED'
  | 'PROJECTION_FAILED'
  | 'SCHEMA_MISMATCH'
  | 'OVERLOADED'
  | 'SHARD_UNAVAILABLE'

/**
 * Base class of every error statesource throws or rejects with.
 *
 * @example
 * ```ts
 * try {
 *   await repository.send('acc-1', { type: 'withdraw', amount: 500 })
 * } catch (error) {
 *   if (isStatesourceError(error, 'COMMAND_REJECTED')) console.log(error.message)
 * }
 * ```
 */
export class StatesourceError extends Error {
  override name = 'StatesourceError'
  readonly [BRAND] = true

  constructor(
    readonly code: StatesourceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** True when `error` is a statesource error (optionally with the given code), even across two loaded copies. */
export function isStatesourceError<C extends StatesourceErrorCode>(
  error: unknown,
  code?: C,
): error is StatesourceError & { code: C } {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true &&
    (code === undefined || (error as StatesourceError).code === code)
  )
}

/** Another writer appended to the stream first, or the caller's expected version is stale. Reload and retry. */
export class ConcurrencyError extends StatesourceError {
  override readonly name = 'ConcurrencyError'
  constructor(
    readonly persistenceId: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(
      'CONCURRENCY_CONFLICT',
      `"${persistenceId}" is at version ${actual}, expected ${expected}. Reload the aggregate and retry the command.`,
    )
  }
}

/** Where a command was rejected: its `decide`, the statechart, an invariant or an interceptor. */
export type RejectionSource = 'decide' | 'statechart' | 'invariant' | 'interceptor'

/** A business rejection: the command was refused and nothing was written. */
export class CommandRejectedError extends StatesourceError {
  override readonly name = 'CommandRejectedError'
  constructor(
    readonly persistenceId: string,
    readonly commandType: string,
    readonly reason: string,
    readonly source: RejectionSource,
    readonly details?: unknown,
    options?: { cause?: unknown; by?: string },
  ) {
    super(
      'COMMAND_REJECTED',
      `Command "${commandType}" for "${persistenceId}" was rejected by ${options?.by ? `${source} "${options.by}"` : source}: ${reason}`,
      options,
    )
    this.rejectedBy = options?.by
  }
  /** The interceptor (or invariant) name that rejected the command, when it has one. */
  readonly rejectedBy: string | undefined
}

/** A stored event whose manifest no codec knows. */
export class UnknownManifestError extends StatesourceError {
  override readonly name = 'UnknownManifestError'
  constructor(
    readonly manifest: string,
    readonly persistenceId: string,
    readonly seqNr: number,
  ) {
    super(
      'UNKNOWN_MANIFEST',
      `No decoder for manifest "${manifest}" (event ${seqNr} of "${persistenceId}"). Register a decoder or an upcaster for it in the EventCodecRegistry, or a catch-all.`,
    )
  }
}

/** The operation did not complete in time. For a command, the outcome is unknown: retry with the same command id. */
export class TimeoutError extends StatesourceError {
  override readonly name = 'TimeoutError'
  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super(
      'TIMEOUT',
      `${operation} did not complete within ${timeoutMs} ms. If it was a command, its outcome is unknown: retry it with the same commandId to get the first result.`,
    )
  }
}

/**
 * The journal could not read or write, and says so for certain: nothing from the failed write is visible.
 * A write whose outcome is not known fails with {@link JournalOutcomeUnknownError} instead.
 */
export class JournalError extends StatesourceError {
  override readonly name = 'JournalError'
  constructor(message: string, options?: { cause?: unknown }) {
    super('JOURNAL_FAILURE', message, options)
  }
}

/**
 * A write whose commit outcome is unknown: the connection or the writer thread was lost while the commit was
 * under way, so the events may or may not be stored. Retry the command with the same `commandId`: if the
 * first attempt committed, the retry returns its result (`duplicate: true`); if not, the retry writes it.
 *
 * @example
 * ```ts
 * const send = () => orders.send('o-1', { type: 'pay' }, { commandId: 'pay-o-1' })
 * const result = await send().catch((error) => {
 *   if (isStatesourceError(error, 'JOURNAL_OUTCOME_UNKNOWN')) return send()
 *   throw error
 * })
 * ```
 */
export class JournalOutcomeUnknownError extends StatesourceError {
  override readonly name = 'JournalOutcomeUnknownError'
  constructor(
    /** What was lost, e.g. `the journal writer thread stopped (exit code 1)`. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      'JOURNAL_OUTCOME_UNKNOWN',
      `The outcome of a journal write is unknown: ${reason} while the write was being committed, so its events may or may not be stored. Retry the command with the same commandId: it returns the first result if the write committed, and writes it if not.`,
      options,
    )
  }
}

/** A builder or component is missing a required part. */
export class NotConfiguredError extends StatesourceError {
  override readonly name = 'NotConfiguredError'
  constructor(
    readonly what: string,
    message: string,
  ) {
    super('NOT_CONFIGURED', message)
  }
}

/** Recovering an aggregate from its snapshot and journal failed; it is not served until recovery succeeds. */
export class RecoveryError extends StatesourceError {
  override readonly name = 'RecoveryError'
  constructor(
    readonly persistenceId: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('RECOVERY_FAILED', message, options)
  }
}

/** Which bound of the gateway's command queue refused a command. */
export type OverloadBound = 'maxPerAggregate' | 'maxTotal'

/**
 * The gateway refused a command at once because too many commands already wait: for this aggregate
 * (`commandQueue.maxPerAggregate`) or in total (`commandQueue.maxTotal`). Nothing was written; retry later,
 * with backoff.
 */
export class OverloadedError extends StatesourceError {
  override readonly name = 'OverloadedError'
  constructor(
    readonly persistenceId: string,
    readonly commandType: string,
    readonly bound: OverloadBound,
    readonly limit: number,
  ) {
    super(
      'OVERLOADED',
      bound === 'maxPerAggregate'
        ? `Command "${commandType}" for "${persistenceId}" was refused: ${limit} commands already wait for "${persistenceId}" (commandQueue.maxPerAggregate). Nothing was written. Retry later with backoff, or raise the bound with the builder's commandQueue({ maxPerAggregate }).`
        : `Command "${commandType}" for "${persistenceId}" was refused: the gateway already holds ${limit} commands (commandQueue.maxTotal). Nothing was written. Retry later with backoff, or raise the bound with the builder's commandQueue({ maxTotal }).`,
    )
  }
}
