import type { DomainEvent } from '../codec/event-codec-registry.ts'
import { NotConfiguredError } from '../errors.ts'
import { checkText } from '../persistence/check-text.ts'
import type { EventEnvelope } from '../persistence/envelope.ts'
import { ReaderFilter, validateFilter } from './reader-filter.ts'

/**
 * What a reader does with an event that still fails after its retries:
 * - `'halt'` (default): stop at the event, keep the offset before it, report it in the status;
 * - `'skip'`: record it (with its position) and move on;
 * - `'dead-letter'`: park it in the dead-letter store (listable, replayable) and move on.
 *
 * @example
 * ```ts
 * const policy: ReaderErrorPolicy = 'dead-letter'
 * ```
 */
export type ReaderErrorPolicy = 'halt' | 'skip' | 'dead-letter'

/**
 * When an at-least-once reader saves its offset: after `everyEvents` applied events or `everyMs` milliseconds
 * with unsaved progress, whichever comes first, and always on stop, halt and rebuild.
 *
 * @example
 * ```ts
 * const checkpoint: CheckpointConfig = { everyEvents: 500, everyMs: 250 }
 * ```
 */
export interface CheckpointConfig {
  /** Default 1,000 events. */
  readonly everyEvents?: number
  /** Default 1,000 ms. */
  readonly everyMs?: number
}

/** Default checkpoint interval in events. */
export const DEFAULT_CHECKPOINT_EVENTS = 1_000
/** Default checkpoint interval in milliseconds. */
export const DEFAULT_CHECKPOINT_MS = 1_000

/**
 * A synchronous, transactional offset store in the same database as a reader's read model: the runner applies
 * a page of events and saves the offset in one `transaction`, which makes the reader exactly-once across
 * restarts. `@statesource/sqlite`'s `createSqliteProjection` provides one for SQLite.
 *
 * @example
 * ```ts
 * const offsets = new Map<string, number>()
 * const store: TransactionalOffsetStore = {
 *   transaction: (fn) => fn(),
 *   loadOffset: (name) => offsets.get(name),
 *   saveOffset: (name, ordering) => void offsets.set(name, ordering),
 *   resetOffset: (name) => void offsets.delete(name),
 * }
 * ```
 *
 * @remarks `transaction(fn)` must commit when `fn` returns and roll back when it throws; a nested call must be a
 * savepoint (better-sqlite3's `db.transaction` behaves this way), so one failing event rolls back alone.
 */
export interface TransactionalOffsetStore {
  transaction<T>(fn: () => T): T
  loadOffset(projection: string): number | undefined
  saveOffset(projection: string, ordering: number): void
  resetOffset(projection: string): void
}

/**
 * A projection: a name, a filter, an initial state and a fold over decoded events with their envelopes.
 * Give it to `builder.withReader(reader)`, which returns its {@link ProjectionHandle}.
 *
 * @example
 * ```ts
 * const totals: Reader<{ total: number }> = defineReader({
 *   name: 'totals',
 *   filter: ReaderFilter.tag('money'),
 *   initialState: { total: 0 },
 *   apply: (state, event) => (event.type === 'deposited' ? { total: state.total + (event.amount as number) } : state),
 * })
 * ```
 *
 * @remarks
 * `initialState` is read each time the projection starts from scratch or rebuilds, so a getter may return a
 * fresh mutable value. `apply` returns the next state (or a promise of it); a throw is retried and then handled
 * by `errorPolicy`. By default a projection's state lives in memory, so it replays the journal from the start
 * at every start; give `loadState` (state kept elsewhere, at-least-once) or `transactional` (read model and
 * offset in one database, exactly-once) to resume from the stored offset instead.
 */
export interface Reader<TState, TEvent extends DomainEvent = DomainEvent> {
  /** Unique per CQRS instance (checked at build); also the key of its offset and dead letters. */
  readonly name: string
  /** Default {@link ReaderFilter.all}. */
  readonly filter?: ReaderFilter
  readonly initialState: TState
  apply(state: TState, event: TEvent, envelope: EventEnvelope): TState | Promise<TState>
  /** Default `'halt'`. */
  readonly errorPolicy?: ReaderErrorPolicy
  /** Overrides the builder's `readerRetry`; `false` turns retries off for this reader. */
  readonly retry?: ReaderRetry | false
  /** At-least-once checkpoint interval (ignored with `transactional`, which commits with every page). */
  readonly checkpoint?: CheckpointConfig
  /** The state as the durable read model holds it, loaded when resuming from a stored offset. */
  readonly loadState?: () => TState | Promise<TState>
  /** Clears the durable read model; called by `rebuildProjection` before the replay. */
  readonly reset?: () => void | Promise<void>
  /** Exactly-once: offsets committed in the read model's own transactions. `apply` must then be synchronous. */
  readonly transactional?: TransactionalOffsetStore
  /** How many skipped events the status keeps (the newest). Default 100. */
  readonly skipLogSize?: number
  /** `readerStatus()` counts the lag of a filtered reader up to this many events. Default 10,000. */
  readonly lagCountLimit?: number
}

/** How a failed reader apply is retried before its error policy applies. */
export type RetrySchedule = { readonly fixedMs: number } | { readonly minMs: number; readonly maxMs: number }

/** The builder's `readerRetry(maxAttempts, schedule)` (the reference's `with_reader_retry`). `maxAttempts` counts the first try. */
export interface ReaderRetry {
  readonly maxAttempts: number
  readonly schedule: RetrySchedule
}

/** Any reader, whatever its state type. */
export type AnyReader = Reader<any, any>
/** The state type of a reader. */
export type ReaderStateFrom<R> = R extends Reader<infer S, any> ? S : never

/**
 * Defines a reader from one config object, inferring its state type; checks the name and filter early.
 *
 * @example
 * ```ts
 * const count = defineReader({ name: 'count', initialState: 0, apply: (n: number) => n + 1 })
 * ```
 */
export function defineReader<TState, TEvent extends DomainEvent = DomainEvent>(
  config: Reader<TState, TEvent>,
): Reader<TState, TEvent> {
  validateReader(config)
  return config
}

/** @internal Throws a NotConfiguredError naming the reader and what to fix. */
export function validateReader(reader: AnyReader): void {
  if (typeof reader?.name !== 'string' || reader.name.length === 0) {
    throw new NotConfiguredError(
      'reader',
      'A reader has no name: give every reader a unique, non-empty name.',
    )
  }
  // The name keys offsets and dead letters in text columns.
  checkText(reader.name, 'reader name')
  if (typeof reader.apply !== 'function') {
    throw new NotConfiguredError(
      'reader',
      `Reader "${reader.name}" has no apply(state, event, envelope) function.`,
    )
  }
  validateFilter(reader.filter ?? ReaderFilter.all(), reader.name)
  const policy = reader.errorPolicy ?? 'halt'
  if (policy !== 'halt' && policy !== 'skip' && policy !== 'dead-letter') {
    throw new NotConfiguredError(
      'errorPolicy',
      `Reader "${reader.name}" has error policy "${String(policy)}"; use 'halt', 'skip' or 'dead-letter'.`,
    )
  }
  const positive = (value: number | undefined, what: string) => {
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
      throw new NotConfiguredError(
        what,
        `Reader "${reader.name}": ${what} must be an integer of at least 1, got ${value}.`,
      )
    }
  }
  positive(reader.checkpoint?.everyEvents, 'checkpoint.everyEvents')
  positive(reader.checkpoint?.everyMs, 'checkpoint.everyMs')
  positive(reader.skipLogSize, 'skipLogSize')
  positive(reader.lagCountLimit, 'lagCountLimit')
  if (reader.retry) validateRetry(reader.retry, `Reader "${reader.name}": retry`)
}

/** @internal */
export function validateRetry(retry: ReaderRetry, what: string): void {
  if (!(Number.isInteger(retry.maxAttempts) && retry.maxAttempts >= 1)) {
    throw new NotConfiguredError(
      'readerRetry',
      `${what}.maxAttempts must be an integer of at least 1, got ${retry.maxAttempts}.`,
    )
  }
  const s = retry.schedule as { fixedMs?: number; minMs?: number; maxMs?: number }
  const ok =
    s !== undefined &&
    (s.fixedMs !== undefined
      ? s.fixedMs >= 0
      : s.minMs !== undefined && s.maxMs !== undefined && s.minMs >= 0 && s.maxMs >= s.minMs)
  if (!ok) {
    throw new NotConfiguredError(
      'readerRetry',
      `${what}.schedule must be { fixedMs >= 0 } or { minMs >= 0, maxMs >= minMs }, got ${JSON.stringify(retry.schedule)}.`,
    )
  }
}

/** @internal Delay before attempt `attempt + 1` (attempt counts from 1). */
export function retryDelay(retry: ReaderRetry, attempt: number): number {
  const s = retry.schedule
  if ('fixedMs' in s) return s.fixedMs
  return Math.min(s.maxMs, s.minMs * 2 ** (attempt - 1))
}
