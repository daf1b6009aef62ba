import type { AppendOutcome, AppendRequest, EventEnvelope } from './envelope.ts'
import type { ResolvedInputLimits } from './limits.ts'
import type { ReadJournal } from './read-journal.ts'

/** Options of {@link Journal.replay}. */
export interface ReplayOptions {
  /** First sequence number to return (inclusive). Default 1. */
  fromSeqNr?: number
  /** Last sequence number to return (inclusive). Default: the end of the stream. */
  toSeqNr?: number
  /** At most this many events. Default: no limit. */
  max?: number
}

/** Options of {@link Journal.readForRecovery}. */
export interface RecoveryReadOptions {
  /** First sequence number to return (inclusive): the one after the snapshot recovery starts from. Default 1. */
  fromSeqNr?: number
}

/**
 * What {@link Journal.readForRecovery} returns: a stream's events from `fromSeqNr` and its highest sequence
 * number, both as of the same instant.
 */
export interface RecoveryRead {
  /** The stream's events from `fromSeqNr` on, in sequence order, skipping deleted ones. */
  readonly events: EventEnvelope[]
  /** The highest sequence number ever written to the stream (deleted events included) at the time of the read. */
  readonly highestSeqNr: number
}

/**
 * The write side's storage contract. Implementations must pass the journal contract suite
 * exported by `@statesource/core/testing`.
 *
 * @remarks
 * `append` is atomic **per request**: a request's events are all stored or none is. One call may carry
 * requests for many streams; a request whose `expectedSeqNr` does not match fails alone with a
 * {@link ConcurrencyError} (or a serialization error) and the others still succeed. The returned promise
 * rejects only when the whole call failed (a {@link JournalError}), in which case nothing was written.
 * A request that breaks a size limit (`checkEventLimits`, `checkPersistenceId`) fails alone with
 * `INVALID_INPUT`.
 */
export interface Journal {
  append(requests: readonly AppendRequest[]): Promise<AppendOutcome[]>
  /** Events of one stream in sequence order, skipping deleted ones. An unknown stream gives `[]`. */
  replay(persistenceId: string, options?: ReplayOptions): Promise<EventEnvelope[]>
  /** The highest sequence number ever written to the stream, deleted events included; 0 if none. */
  highestSeqNr(persistenceId: string): Promise<number>
  /**
   * Everything recovery needs, read in **one consistent read** (one read transaction, one snapshot of the
   * database): the events from `fromSeqNr` and the highest sequence number. Another writer (another process
   * on the same database) may append at any moment; read separately, its events would be missing from the
   * first read and counted by the second, which looks like deleted history.
   */
  readForRecovery(persistenceId: string, options?: RecoveryReadOptions): Promise<RecoveryRead>
  /** Deletes events up to and including `toSeqNr`. The highest sequence number never goes down. */
  deleteTo(persistenceId: string, toSeqNr: number): Promise<void>
  /**
   * The size limits `append` enforces (see {@link InputLimits}). The gateway checks persistence ids against
   * them at intake; without them it uses {@link DEFAULT_INPUT_LIMITS}.
   */
  readonly limits?: ResolvedInputLimits
  /**
   * A read journal over this journal, when it can offer one. The builder uses it when no read journal is
   * set with `readJournal(...)`, with the builder's poll interval.
   */
  readJournal?(config?: { pollIntervalMs?: number }): ReadJournal
  /** Releases resources (timers, connections). Further calls fail. */
  close?(): Promise<void>
}
