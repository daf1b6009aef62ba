import { Observable } from 'rxjs'
import { NotConfiguredError } from '../errors.ts'
import type { EventEnvelope } from '../persistence/envelope.ts'
import type { ReadJournal } from '../persistence/read-journal.ts'

/**
 * Which events a reader sees: every event, one tag, one stream or a fixed set of streams.
 *
 * @example
 * ```ts
 * const filter: ReaderFilter = ReaderFilter.tag('money')
 * ```
 */
export type ReaderFilter =
  | { readonly kind: 'all' }
  | { readonly kind: 'tag'; readonly tag: string }
  | { readonly kind: 'persistence-id'; readonly persistenceId: string }
  | { readonly kind: 'persistence-ids'; readonly persistenceIds: readonly string[] }

/**
 * Constructors of {@link ReaderFilter} values.
 *
 * @example
 * ```ts
 * ReaderFilter.all()
 * ReaderFilter.tag('money')
 * ReaderFilter.persistenceId(account, 'a-1') // like send: the aggregate and its id
 * ReaderFilter.persistenceIds(account, ['a-1', 'a-2'])
 * ReaderFilter.persistenceId('account|a-1') // or the stream's full persistence id
 * ```
 *
 * @remarks
 * The stream filters take what `repository.send` takes: the aggregate and the bare id; the filter holds
 * the persistence id (`type|id`) the journal names the stream by. The one-argument forms take that full
 * persistence id, for streams written without an aggregate or read across applications.
 */
export const ReaderFilter = {
  /** Every event of every stream, in global order (`allEvents`). */
  all(): ReaderFilter {
    return { kind: 'all' }
  },
  /** Events carrying `tag`, read through the tag index (`eventsByTag`), never a scan of every stream. */
  tag(tag: string): ReaderFilter {
    return { kind: 'tag', tag }
  },
  /** The events of one stream (`eventsByPersistenceId`): `(aggregate, id)` as in `send`, or the full `type|id`. */
  persistenceId(aggregateOrPersistenceId: StreamOwner | string, id?: string): ReaderFilter {
    return { kind: 'persistence-id', persistenceId: toPersistenceId(aggregateOrPersistenceId, id) }
  },
  /**
   * The events of a fixed set of streams, in global order. Read from `allEvents` and filtered in memory, so
   * one offset orders them all; on a large journal, tag the streams and use {@link ReaderFilter.tag} instead.
   */
  persistenceIds(
    aggregateOrPersistenceIds: StreamOwner | readonly string[],
    ids?: readonly string[],
  ): ReaderFilter {
    if (Array.isArray(aggregateOrPersistenceIds)) {
      return { kind: 'persistence-ids', persistenceIds: [...aggregateOrPersistenceIds] }
    }
    const owner = aggregateOrPersistenceIds as StreamOwner
    return { kind: 'persistence-ids', persistenceIds: (ids ?? []).map((id) => toPersistenceId(owner, id)) }
  },
} as const

/** What names a stream from an aggregate id: an aggregate from `defineAggregate`. */
interface StreamOwner {
  readonly type: string
  persistenceId(id: string): string
}

function toPersistenceId(owner: StreamOwner | string, id: string | undefined): string {
  if (typeof owner === 'string') {
    if (id !== undefined) {
      throw new NotConfiguredError(
        'readerFilter',
        `ReaderFilter.persistenceId("${owner}", "${id}"): pass the aggregate and its id, persistenceId(aggregate, "${id}"), or the one full persistence id.`,
      )
    }
    return owner
  }
  if (typeof id !== 'string') {
    throw new NotConfiguredError(
      'readerFilter',
      `ReaderFilter.persistenceId(${owner.type}, id) needs the aggregate id, as in send(id, command).`,
    )
  }
  return owner.persistenceId(id)
}

/** @internal Throws a NotConfiguredError naming the reader when its filter is malformed. */
export function validateFilter(filter: ReaderFilter, reader: string): void {
  const fail = (what: string): never => {
    throw new NotConfiguredError(
      'readerFilter',
      `Reader "${reader}" has an invalid filter: ${what}. Build it with ReaderFilter.*().`,
    )
  }
  switch (filter?.kind) {
    case 'all':
      return
    case 'tag':
      if (typeof filter.tag !== 'string' || filter.tag.length === 0)
        fail('the tag must be a non-empty string')
      return
    case 'persistence-id':
      if (typeof filter.persistenceId !== 'string' || filter.persistenceId.length === 0) {
        fail('the persistence id must be a non-empty string')
      }
      return
    case 'persistence-ids':
      if (!Array.isArray(filter.persistenceIds) || filter.persistenceIds.length === 0) {
        fail('the list of persistence ids must not be empty')
      }
      for (const id of filter.persistenceIds)
        if (typeof id !== 'string' || id.length === 0) fail(`"${String(id)}" is not a persistence id`)
      return
    default:
      fail(`unknown kind "${String((filter as { kind?: unknown } | undefined)?.kind)}"`)
  }
}

/** @internal A JSON-safe description for `topology.describe()`. */
export function describeFilter(filter: ReaderFilter): Record<string, unknown> {
  return { ...filter }
}

/**
 * @internal The query a filter maps to, resuming after the global ordering `after`.
 *
 * A stream query resumes by sequence number: `fromSeqNr` is where the previous subscription stopped (1 the
 * first time), and events at or before `after` are dropped, so a restart never re-applies them.
 */
export function queryFor(
  readJournal: ReadJournal,
  filter: ReaderFilter,
  after: number,
  live: boolean,
  fromSeqNr = 1,
): Observable<EventEnvelope> {
  switch (filter.kind) {
    case 'all':
      return live ? readJournal.allEvents(after) : readJournal.currentAllEvents(after)
    case 'tag':
      return live
        ? readJournal.eventsByTag(filter.tag, after)
        : readJournal.currentEventsByTag(filter.tag, after)
    case 'persistence-id': {
      const source = live
        ? readJournal.eventsByPersistenceId(filter.persistenceId, fromSeqNr)
        : readJournal.currentEventsByPersistenceId(filter.persistenceId, fromSeqNr)
      return after > 0 ? dropUpTo(source, after) : source
    }
    case 'persistence-ids': {
      const ids = new Set(filter.persistenceIds)
      const source = live ? readJournal.allEvents(after) : readJournal.currentAllEvents(after)
      return new Observable<EventEnvelope>((subscriber) =>
        source.subscribe({
          next: (envelope) => {
            if (ids.has(envelope.persistenceId)) subscriber.next(envelope)
          },
          error: (error) => subscriber.error(error),
          complete: () => subscriber.complete(),
        }),
      )
    }
  }
}

function dropUpTo(source: Observable<EventEnvelope>, after: number): Observable<EventEnvelope> {
  return new Observable<EventEnvelope>((subscriber) =>
    source.subscribe({
      next: (envelope) => {
        if (envelope.ordering > after) subscriber.next(envelope)
      },
      error: (error) => subscriber.error(error),
      complete: () => subscriber.complete(),
    }),
  )
}
