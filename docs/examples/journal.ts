// #region custom-journal
import {
  type AppendOutcome,
  type AppendRequest,
  ConcurrencyError,
  checkEventLimits,
  checkPersistenceId,
  checkText,
  checkTexts,
  createInMemoryJournal,
  createPollingReadJournal,
  type EventEnvelope,
  type EventPageSource,
  type Journal,
  manifestOf,
  type NewEvent,
  type PollingReadJournalConfig,
  type ReadJournal,
  type RecoveryRead,
  type ReplayOptions,
  resolveInputLimits,
  toJson,
} from '@statesource/core'
import { openSqlite } from '@statesource/sqlite'
import { firstValueFrom, lastValueFrom, Subject, take, toArray } from 'rxjs'

/** A journal over one array: `#events[i]` has ordering `i + 1`. */
export class ArrayJournal implements Journal, EventPageSource {
  readonly #events: EventEnvelope[] = []
  // In creation order, which is what persistenceIds() lists.
  readonly #streams = new Map<string, { highest: number; deletedTo: number }>()
  readonly #commits = new Subject<void>()
  /** The size limits every journal enforces (the defaults here); the gateway checks ids against them too. */
  readonly limits = resolveInputLimits(undefined, 'new ArrayJournal()')

  async append(requests: readonly AppendRequest[]): Promise<AppendOutcome[]> {
    const outcomes: AppendOutcome[] = []
    for (const { persistenceId, expectedSeqNr, events } of requests) {
      try {
        // Text columns of a SQL journal cannot hold lone surrogates: refuse them, as every journal does.
        checkText(persistenceId, 'persistenceId')
        for (const e of events) {
          checkText(e.type, 'event type')
          checkTexts(e.tags, 'tag')
        }
        const stream = this.#streams.get(persistenceId) ?? { highest: 0, deletedTo: 0 }
        if (expectedSeqNr !== stream.highest) {
          throw new ConcurrencyError(persistenceId, expectedSeqNr, stream.highest)
        }
        checkPersistenceId(persistenceId, this.limits)
        // Serialize and check every event before storing any: a bad or oversized one fails its own request.
        const copies = events.map((e) => {
          const payloadJson = toJson(e.payload, `Event "${e.type}" payload`)
          const metadataJson = toJson(e.metadata, `Event "${e.type}" metadata`)
          checkEventLimits(persistenceId, e, { payloadJson, metadataJson }, this.limits)
          return [JSON.parse(payloadJson), JSON.parse(metadataJson)]
        })
        const timestamp = Date.now()
        const envelopes = events.map(
          (e, i): EventEnvelope => ({
            ordering: this.#events.length + i + 1,
            persistenceId,
            seqNr: stream.highest + i + 1,
            type: e.type,
            version: e.version,
            payload: copies[i]![0],
            tags: [...e.tags],
            metadata: copies[i]![1],
            timestamp,
            writerId: 'array',
          }),
        )
        this.#events.push(...envelopes)
        this.#streams.set(persistenceId, { ...stream, highest: stream.highest + envelopes.length })
        outcomes.push({ ok: true, envelopes })
      } catch (error) {
        outcomes.push({ ok: false, error: error as Error })
      }
    }
    this.#commits.next() // wakes the live queries of this process
    return outcomes
  }

  async replay(persistenceId: string, options: ReplayOptions = {}): Promise<EventEnvelope[]> {
    checkText(persistenceId, 'persistenceId')
    const { fromSeqNr = 1, toSeqNr = Number.MAX_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = options
    return this.readByPersistenceId(persistenceId, fromSeqNr, toSeqNr, max)
  }

  async highestSeqNr(persistenceId: string): Promise<number> {
    return this.#streams.get(persistenceId)?.highest ?? 0
  }

  // Recovery's events and highest sequence number in one consistent read (here: one synchronous step).
  async readForRecovery(persistenceId: string, options: { fromSeqNr?: number } = {}): Promise<RecoveryRead> {
    checkText(persistenceId, 'persistenceId')
    return {
      events: this.readByPersistenceId(
        persistenceId,
        options.fromSeqNr ?? 1,
        Number.MAX_SAFE_INTEGER,
        Number.MAX_SAFE_INTEGER,
      ),
      highestSeqNr: this.#streams.get(persistenceId)?.highest ?? 0,
    }
  }

  async deleteTo(persistenceId: string, toSeqNr: number): Promise<void> {
    const stream = this.#streams.get(persistenceId)
    // Deleted events stay counted: the highest sequence number never goes down.
    if (stream) stream.deletedTo = Math.max(stream.deletedTo, Math.min(toSeqNr, stream.highest))
  }

  // EventPageSource: the pages createPollingReadJournal reads.
  readByPersistenceId(persistenceId: string, fromSeqNr: number, toSeqNr: number, limit: number) {
    const found = this.#events.filter(
      (e) => e.persistenceId === persistenceId && e.seqNr >= fromSeqNr && e.seqNr <= toSeqNr,
    )
    return found.filter((e) => this.#visible(e)).slice(0, limit)
  }

  readByTag(tag: string, afterOrdering: number, limit: number) {
    const after = this.#events.slice(afterOrdering)
    return after.filter((e) => e.tags.includes(tag) && this.#visible(e)).slice(0, limit)
  }

  readAll(afterOrdering: number, limit: number) {
    const after = this.#events.slice(afterOrdering)
    return after.filter((e) => this.#visible(e)).slice(0, limit)
  }

  readPersistenceIds(afterPosition: number, limit: number) {
    const ids = [...this.#streams.keys()].map((persistenceId, i) => ({ persistenceId, position: i + 1 }))
    return ids.slice(afterPosition, afterPosition + limit)
  }

  highestOrdering() {
    return this.#events.length
  }

  readJournal(config: Omit<PollingReadJournalConfig, 'wakeUps'> = {}): ReadJournal {
    return createPollingReadJournal(this, { ...config, wakeUps: this.#commits })
  }

  #visible(e: EventEnvelope): boolean {
    return e.seqNr > (this.#streams.get(e.persistenceId)?.deletedTo ?? 0)
  }
}
// #endregion custom-journal

export async function main(log: (line: string) => void = console.log) {
  // #region append
  const journal = createInMemoryJournal({ writerId: 'node-1', now: () => 1_700_000_000_000 })
  const deposited = (amount: number): NewEvent => ({
    type: 'deposited',
    version: 1,
    payload: { amount },
    tags: ['money'],
    metadata: { correlationId: 'import-7' },
  })

  // One call, two streams: each request is stored whole or not at all.
  const [a, b] = await journal.append([
    { persistenceId: 'account|a', expectedSeqNr: 0, events: [deposited(5), deposited(7)] },
    { persistenceId: 'account|b', expectedSeqNr: 0, events: [deposited(1)] },
  ])
  log(`${a?.ok} ${b?.ok}`) // true true

  // A stale expected sequence number fails its request alone, with a typed conflict.
  const [stale] = await journal.append([
    { persistenceId: 'account|a', expectedSeqNr: 1, events: [deposited(9)] },
  ])
  if (stale && !stale.ok) log(stale.error.message)
  // "account|a" is at version 2, expected 1. Reload the aggregate and retry the command.
  // #endregion append

  // #region envelope
  const [envelope] = await journal.replay('account|b')
  log(`${envelope!.persistenceId} seqNr ${envelope!.seqNr}, ordering ${envelope!.ordering}`)
  // account|b seqNr 1, ordering 3
  log(`${manifestOf(envelope!)} ${JSON.stringify(envelope!.payload)} [${envelope!.tags}]`)
  // deposited@1 {"amount":1} [money]
  log(JSON.stringify([envelope!.metadata, envelope!.timestamp, envelope!.writerId]))
  // [{"correlationId":"import-7"},1700000000000,"node-1"]
  // #endregion envelope

  // #region queries
  const readJournal = journal.readJournal()
  const position = (e: { persistenceId: string; seqNr: number; ordering: number }) =>
    `${e.persistenceId}#${e.seqNr}@${e.ordering}`

  // current*: what is stored now, then complete.
  const money = await lastValueFrom(readJournal.currentEventsByTag('money').pipe(toArray()))
  log(money.map(position).join(' ')) // account|a#1@1 account|a#2@2 account|b#1@3

  // Live: what is stored after the offset, then every new event until unsubscribed.
  const next = firstValueFrom(readJournal.allEvents(3).pipe(take(1)))
  await journal.append([{ persistenceId: 'account|b', expectedSeqNr: 1, events: [deposited(2)] }])
  log(`live ${position(await next)}`) // live account|b#2@4
  // #endregion queries

  // #region delete
  await journal.deleteTo('account|a', 1)
  const left = await journal.replay('account|a')
  log(`replay ${left.map((e) => e.seqNr)}, highest ${await journal.highestSeqNr('account|a')}`)
  // replay 2, highest 2
  await journal.deleteTo('account|a', 99) // clamped to the highest: deletes everything
  const [after] = await journal.append([
    { persistenceId: 'account|a', expectedSeqNr: 2, events: [deposited(3)] },
  ])
  log(`next seqNr ${after?.ok ? after.envelopes[0]?.seqNr : '-'}`) // next seqNr 3
  // #endregion delete

  // #region group-commit
  const sqlite = await openSqlite(':memory:')
  // Three appends issued in the same event-loop turn share one transaction.
  const ids = ['c', 'd', 'e']
  await Promise.all(
    ids.map((id) =>
      sqlite.journal.append([{ persistenceId: `account|${id}`, expectedSeqNr: 0, events: [deposited(1)] }]),
    ),
  )
  const { events, transactions } = sqlite.journal.stats
  log(`${events} events in ${transactions} transaction`) // 3 events in 1 transaction
  await sqlite.close()
  // #endregion group-commit

  // The custom journal above, used like any other.
  const custom = new ArrayJournal()
  await custom.append([{ persistenceId: 'account|z', expectedSeqNr: 0, events: [deposited(4)] }])
  const all = await lastValueFrom(custom.readJournal().currentAllEvents().pipe(toArray()))
  log(`custom ${all.map(position)}`) // custom account|z#1@1
}
