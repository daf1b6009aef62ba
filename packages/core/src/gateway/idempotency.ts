// Hot path: measured by packages/bench/src/cases/statesource-case.ts and packages/bench/src/cases/recovery-case.ts (pnpm bench). Measure before and after changing this file.
import { StatesourceError } from '../errors.ts'
import { hashOf } from '../internal/hash.ts'
import type { EventEnvelope } from '../persistence/envelope.ts'
import type { Journal } from '../persistence/journal.ts'
import type { SendResult } from './messages.ts'

/**
 * What an aggregate remembers of a command id: the hash of the command's payload and where its events are.
 * Snapshots store these records as they are (`dedupe` in the snapshot body), so their shape is a format.
 */
export interface CommandRecord {
  readonly hash: string
  readonly fromSeqNr: number
  readonly toSeqNr: number
  readonly ordering: number
  /** For a command that produced no events: the aggregate's version when it was answered. */
  readonly version?: number
}

/** An aggregate's command ids, least recently used first. */
export type CommandRecords = Map<string, CommandRecord>

/** Where records live: on the entity, created with its first command id (most aggregates never get one). */
interface RecordHolder {
  commandIds: CommandRecords | undefined
}

/**
 * Idempotency by command id, the one place its records are read and written: a retry with the same id gets
 * the first result; another payload under that id is refused. An aggregate remembers its last `window` ids:
 * those of commands that wrote events for as long as the journal holds the events (recovery and snapshots
 * bring them back), those of commands that wrote nothing while the aggregate stays in memory.
 */
export class Idempotency {
  constructor(readonly window: number) {}

  /**
   * The record of an earlier command with this id, if there is one.
   * @throws IDEMPOTENCY_CONFLICT when the earlier command under this id had another payload.
   */
  find(holder: RecordHolder, commandId: string, hash: string, pid: string): CommandRecord | undefined {
    const seen = holder.commandIds?.get(commandId)
    if (seen && seen.hash !== hash) {
      throw new StatesourceError(
        'IDEMPOTENCY_CONFLICT',
        `Command id "${commandId}" was already used on "${pid}" for a different command payload. Use a new command id for a new command.`,
      )
    }
    return seen
  }

  /** The first result again, for a retry: its events are read back from the journal. */
  async earlierResult(
    journal: Journal,
    pid: string,
    seen: CommandRecord,
    currentVersion: number,
  ): Promise<SendResult> {
    const wroteEvents = seen.toSeqNr >= seen.fromSeqNr
    return {
      persistenceId: pid,
      events: wroteEvents
        ? await journal.replay(pid, { fromSeqNr: seen.fromSeqNr, toSeqNr: seen.toSeqNr })
        : [],
      // The first result's version: where its events ended, not where the aggregate is now.
      version: wroteEvents ? seen.toSeqNr : (seen.version ?? currentVersion),
      ordering: seen.ordering,
      duplicate: true,
    }
  }

  /** A command's events were committed. */
  rememberWritten(
    holder: RecordHolder,
    commandId: string,
    hash: string,
    envelopes: readonly EventEnvelope[],
  ): void {
    const last = envelopes.at(-1)!
    holder.commandIds = this.#remember(holder.commandIds, commandId, {
      hash,
      fromSeqNr: envelopes[0]!.seqNr,
      toSeqNr: last.seqNr,
      ordering: last.ordering,
    })
  }

  /** A command produced no events: nothing goes to the journal, so it is remembered in memory only. */
  rememberUnwritten(holder: RecordHolder, commandId: string, hash: string, version: number): void {
    holder.commandIds = this.#remember(holder.commandIds, commandId, {
      hash,
      fromSeqNr: 1,
      toSeqNr: 0,
      ordering: 0,
      version,
    })
  }

  /**
   * The records of a recovered aggregate: those its snapshot kept, then those of the events folded after it
   * (the commandId and commandHash in their metadata; consecutive events of one command make one record).
   */
  recover(
    fromSnapshot: readonly (readonly [string, CommandRecord])[],
    envelopes: readonly EventEnvelope[],
  ): CommandRecords | undefined {
    let records: CommandRecords | undefined = fromSnapshot.length > 0 ? new Map(fromSnapshot) : undefined
    for (const envelope of envelopes) {
      const commandId = envelope.metadata.commandId
      const hash = envelope.metadata.commandHash
      if (typeof commandId !== 'string' || typeof hash !== 'string') continue
      const prev = records?.get(commandId)
      records = this.#remember(records, commandId, {
        hash,
        fromSeqNr: prev && prev.toSeqNr === envelope.seqNr - 1 ? prev.fromSeqNr : envelope.seqNr,
        toSeqNr: envelope.seqNr,
        ordering: envelope.ordering,
      })
    }
    if (records) this.#trim(records)
    return records && records.size > 0 ? records : undefined
  }

  /**
   * The records a snapshot keeps: only ids whose events the journal holds. The in-memory note of a command
   * that wrote nothing is not made durable by a snapshot (repository.md states what is remembered, and for
   * how long).
   */
  durable(holder: RecordHolder): [string, CommandRecord][] {
    return holder.commandIds
      ? [...holder.commandIds].filter(([, seen]) => seen.toSeqNr >= seen.fromSeqNr)
      : []
  }

  /** The one write: most recently used last, the oldest beyond the window forgotten. */
  #remember(records: CommandRecords | undefined, commandId: string, record: CommandRecord): CommandRecords {
    const map = records ?? new Map<string, CommandRecord>()
    map.delete(commandId)
    map.set(commandId, record)
    this.#trim(map)
    return map
  }

  #trim(records: CommandRecords): void {
    // Insertion order is least recently used first.
    while (records.size > this.window) records.delete(records.keys().next().value!)
  }
}

/**
 * The hash stored under a commandId. A command JSON cannot hold (a cycle, nesting deeper than the stack)
 * is a serialization failure of the caller's input, not a journal failure: nothing was written.
 */
export function commandHash(command: { type: string }, pid: string): string {
  try {
    return hashOf(command)
  } catch (error) {
    throw new StatesourceError(
      'SERIALIZATION_FAILED',
      `Command "${command.type}" for "${pid}" cannot be serialized to check its commandId: ${(error as Error)?.message ?? error}. Send plain, acyclic JSON data only.`,
      { cause: error },
    )
  }
}
