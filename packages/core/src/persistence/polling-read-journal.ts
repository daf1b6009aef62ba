// Hot path: measured by packages/core/bench/read-side-bench.ts (pnpm bench). Measure before and after changing this file.
import { Observable, Subject, type Subscription } from 'rxjs'
import { READ_JOURNAL_DEFAULTS } from '../defaults.ts'
import { StatesourceError } from '../errors.ts'
import { checkText } from './check-text.ts'
import type { EventEnvelope } from './envelope.ts'
import type { ReadJournal } from './read-journal.ts'

/** Synchronous or asynchronous page reads a journal backend offers to the polling read journal. */
export interface EventPageSource {
  readByPersistenceId(
    persistenceId: string,
    fromSeqNr: number,
    toSeqNr: number,
    limit: number,
  ): Promise<readonly EventEnvelope[]> | readonly EventEnvelope[]
  readByTag(
    tag: string,
    afterOrdering: number,
    limit: number,
  ): Promise<readonly EventEnvelope[]> | readonly EventEnvelope[]
  readAll(afterOrdering: number, limit: number): Promise<readonly EventEnvelope[]> | readonly EventEnvelope[]
  /** Streams in creation order after `afterPosition`; `position` is opaque but increasing. */
  readPersistenceIds(
    afterPosition: number,
    limit: number,
  ):
    | Promise<readonly { persistenceId: string; position: number }[]>
    | readonly { persistenceId: string; position: number }[]
  highestOrdering(): Promise<number> | number
}

/** Options of {@link createPollingReadJournal}. */
export interface PollingReadJournalConfig {
  /** How often live queries look for new events written by other processes. Default 250 ms. */
  pollIntervalMs?: number
  /** Rows per page. Default 500: better-sqlite3 reads block the event loop, so keep pages small. */
  pageSize?: number
  /** Emits after each commit in this process, so live queries see new events within milliseconds. */
  wakeUps?: Observable<unknown>
}

type PageReader<T> = (limit: number) => Promise<readonly T[]> | readonly T[]

/**
 * A drain loop shared by every query: read pages until a short one, emit each item synchronously (so the
 * next page is only read after the consumer took the previous one), and for live queries drain again on
 * every wake-up or poll tick. A wake-up during a drain schedules exactly one more drain.
 */
function drainQuery<T>(
  readPage: PageReader<T>,
  live: boolean,
  config: Required<Omit<PollingReadJournalConfig, 'wakeUps'>> & { wakeUps: Observable<unknown> },
  isDone: () => boolean = () => false,
): Observable<T> {
  return new Observable<T>((subscriber) => {
    let closed = false
    let draining = false
    let again = false
    let timer: ReturnType<typeof setTimeout> | undefined
    let wakeSub: Subscription | undefined

    const schedulePoll = () => {
      if (closed || !live) return
      if (timer) clearTimeout(timer)
      timer = setTimeout(drain, config.pollIntervalMs)
      timer.unref?.()
    }

    const drain = async (): Promise<void> => {
      if (closed) return
      if (draining) {
        again = true
        return
      }
      draining = true
      try {
        do {
          again = false
          for (;;) {
            const page = await readPage(config.pageSize)
            for (const item of page) {
              if (closed) return
              subscriber.next(item)
            }
            if (closed) return
            if (isDone()) {
              subscriber.complete()
              closed = true
              return
            }
            if (page.length < config.pageSize) break
          }
        } while (again && !closed)
      } catch (error) {
        closed = true
        subscriber.error(error)
        return
      } finally {
        draining = false
      }
      if (!live) {
        closed = true
        subscriber.complete()
        return
      }
      schedulePoll()
    }

    if (live) wakeSub = config.wakeUps.subscribe(() => void drain())
    void drain()
    return () => {
      closed = true
      if (timer) clearTimeout(timer)
      wakeSub?.unsubscribe()
    }
  })
}

/**
 * Builds a {@link ReadJournal} over any page source: polling with a configurable interval and page size,
 * plus in-process wake-ups. Both the in-memory and the SQL read journals use it.
 */
export function createPollingReadJournal(
  source: EventPageSource,
  config: PollingReadJournalConfig = {},
): ReadJournal {
  const resolved = {
    pollIntervalMs: config.pollIntervalMs ?? READ_JOURNAL_DEFAULTS.pollIntervalMs,
    pageSize: config.pageSize ?? READ_JOURNAL_DEFAULTS.pageSize,
    wakeUps: config.wakeUps ?? new Subject<unknown>(),
  }
  if (!(Number.isInteger(resolved.pageSize) && resolved.pageSize >= 1)) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `pageSize must be an integer of at least 1, got ${resolved.pageSize}.`,
    )
  }
  if (!(resolved.pollIntervalMs >= 1)) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `pollIntervalMs must be at least 1, got ${resolved.pollIntervalMs}.`,
    )
  }

  const byPid = (live: boolean, pid: string, fromSeqNr = 1, toSeqNr = Number.MAX_SAFE_INTEGER) =>
    new Observable<EventEnvelope>((subscriber) => {
      let next = Math.max(1, fromSeqNr)
      return drainQuery(
        async (limit) => {
          checkText(pid, 'persistenceId')
          const page = await source.readByPersistenceId(pid, next, toSeqNr, limit)
          const last = page.at(-1)
          if (last) next = last.seqNr + 1
          return page
        },
        live,
        resolved,
        () => next > toSeqNr,
      ).subscribe(subscriber)
    })

  const byOrdering =
    (read: (after: number, limit: number) => Promise<readonly EventEnvelope[]> | readonly EventEnvelope[]) =>
    (live: boolean, afterOrdering = 0) =>
      new Observable<EventEnvelope>((subscriber) => {
        let after = afterOrdering
        return drainQuery(
          async (limit) => {
            const page = await read(after, limit)
            const last = page.at(-1)
            if (last) after = last.ordering
            return page
          },
          live,
          resolved,
        ).subscribe(subscriber)
      })

  const byTag = (live: boolean, tag: string, afterOrdering = 0) =>
    byOrdering((after, limit) => {
      checkText(tag, 'tag')
      return source.readByTag(tag, after, limit)
    })(live, afterOrdering)
  const all = byOrdering((after, limit) => source.readAll(after, limit))

  const pids = (live: boolean) =>
    new Observable<string>((subscriber) => {
      let after = 0
      return drainQuery(
        async (limit) => {
          const page = await source.readPersistenceIds(after, limit)
          const last = page.at(-1)
          if (last) after = last.position
          return page.map((p) => p.persistenceId)
        },
        live,
        resolved,
      ).subscribe(subscriber)
    })

  return {
    eventsByPersistenceId: (pid, from, to) => byPid(true, pid, from, to),
    currentEventsByPersistenceId: (pid, from, to) => byPid(false, pid, from, to),
    eventsByTag: (tag, after) => byTag(true, tag, after),
    currentEventsByTag: (tag, after) => byTag(false, tag, after),
    allEvents: (after) => all(true, after),
    currentAllEvents: (after) => all(false, after),
    persistenceIds: () => pids(true),
    currentPersistenceIds: () => pids(false),
    highestOrdering: async () => source.highestOrdering(),
  }
}
