// Hot path: measured by packages/core/bench/read-side-bench.ts (pnpm bench). Measure before and after changing this file.
import { type Observable, Subject } from 'rxjs'
import { ConcurrencyError, StatesourceError } from '../../errors.ts'
import { toJson } from '../../internal/json.ts'
import { checkText, checkTexts } from '../check-text.ts'
import type { AppendOutcome, AppendRequest, EventEnvelope } from '../envelope.ts'
import type { Journal, RecoveryRead, RecoveryReadOptions, ReplayOptions } from '../journal.ts'
import {
  checkEventLimits,
  checkPersistenceId,
  type InputLimits,
  type ResolvedInputLimits,
  resolveInputLimits,
} from '../limits.ts'
import {
  createPollingReadJournal,
  type EventPageSource,
  type PollingReadJournalConfig,
} from '../polling-read-journal.ts'
import type { ReadJournal } from '../read-journal.ts'

interface Stream {
  readonly position: number
  readonly events: EventEnvelope[]
  deletedTo: number
}

/** Options of {@link createInMemoryJournal}. */
export interface InMemoryJournalConfig {
  /** Stamped on every envelope as `writerId`. Default `"in-memory"`. */
  writerId?: string
  /** Clock for `timestamp`. Default `Date.now`. */
  now?: () => number
  /** Size limits `append` enforces. Default {@link DEFAULT_INPUT_LIMITS}. */
  limits?: InputLimits
}

/**
 * A journal in process memory, atomic per call: for tests, examples and prototypes.
 * Payloads are stored as JSON copies, so the same serialization errors surface as with SQL storage.
 *
 * @example
 * ```ts
 * const journal = createInMemoryJournal()
 * const readJournal = journal.readJournal()
 * ```
 */
export class InMemoryJournal implements Journal, EventPageSource {
  readonly #streams = new Map<string, Stream>()
  readonly #all: EventEnvelope[] = []
  readonly #byTag = new Map<string, EventEnvelope[]>()
  readonly #commits = new Subject<void>()
  readonly #writerId: string
  readonly #now: () => number
  /** The size limits `append` enforces. */
  readonly limits: ResolvedInputLimits
  #closed = false

  constructor(config: InMemoryJournalConfig = {}) {
    this.#writerId = config.writerId ?? 'in-memory'
    this.#now = config.now ?? Date.now
    this.limits = resolveInputLimits(config.limits, 'createInMemoryJournal({ limits })')
  }

  /** Emits after every append that stored at least one event. */
  get commits(): Observable<void> {
    return this.#commits.asObservable()
  }

  async append(requests: readonly AppendRequest[]): Promise<AppendOutcome[]> {
    this.#assertOpen()
    const outcomes: AppendOutcome[] = []
    let stored = 0
    const seen = new Map<string, number>()
    for (const request of requests) {
      try {
        checkAppendTexts(request)
        checkPersistenceId(request.persistenceId, this.limits)
        const stream = this.#streams.get(request.persistenceId)
        const current = seen.get(request.persistenceId) ?? highest(stream)
        if (request.expectedSeqNr !== current) {
          throw new ConcurrencyError(request.persistenceId, request.expectedSeqNr, current)
        }
        // Serialize everything before touching state, so a bad payload writes nothing.
        const copies = request.events.map((event, i) => {
          const payloadJson = toJson(event.payload, `Event "${event.type}" payload`)
          const metadataJson = toJson(event.metadata, `Event "${event.type}" metadata`)
          checkEventLimits(request.persistenceId, event, { payloadJson, metadataJson }, this.limits)
          return {
            payload: JSON.parse(payloadJson) as unknown,
            metadata: JSON.parse(metadataJson) as EventEnvelope['metadata'],
            seqNr: current + i + 1,
          }
        })
        const target = stream ?? this.#createStream(request.persistenceId)
        const timestamp = this.#now()
        const envelopes = request.events.map((event, i) => {
          const copy = copies[i]!
          const envelope: EventEnvelope = Object.freeze({
            ordering: this.#all.length + 1,
            persistenceId: request.persistenceId,
            seqNr: copy.seqNr,
            type: event.type,
            version: event.version,
            payload: copy.payload,
            tags: Object.freeze([...event.tags]),
            metadata: copy.metadata,
            timestamp,
            writerId: this.#writerId,
          })
          this.#all.push(envelope)
          target.events.push(envelope)
          for (const tag of new Set(event.tags)) {
            let list = this.#byTag.get(tag)
            if (!list) {
              list = []
              this.#byTag.set(tag, list)
            }
            list.push(envelope)
          }
          return envelope
        })
        seen.set(request.persistenceId, current + envelopes.length)
        stored += envelopes.length
        outcomes.push({ ok: true, envelopes })
      } catch (error) {
        outcomes.push({ ok: false, error: error as Error })
      }
    }
    if (stored > 0) this.#commits.next()
    return outcomes
  }

  async replay(persistenceId: string, options: ReplayOptions = {}): Promise<EventEnvelope[]> {
    this.#assertOpen()
    checkText(persistenceId, 'persistenceId')
    return [
      ...this.readByPersistenceId(
        persistenceId,
        options.fromSeqNr ?? 1,
        options.toSeqNr ?? Number.MAX_SAFE_INTEGER,
        options.max ?? Number.MAX_SAFE_INTEGER,
      ),
    ]
  }

  async highestSeqNr(persistenceId: string): Promise<number> {
    this.#assertOpen()
    checkText(persistenceId, 'persistenceId')
    return highest(this.#streams.get(persistenceId))
  }

  async readForRecovery(persistenceId: string, options: RecoveryReadOptions = {}): Promise<RecoveryRead> {
    this.#assertOpen()
    checkText(persistenceId, 'persistenceId')
    // Synchronous: nothing can append between the two reads.
    return {
      events: [
        ...this.readByPersistenceId(
          persistenceId,
          options.fromSeqNr ?? 1,
          Number.MAX_SAFE_INTEGER,
          Number.MAX_SAFE_INTEGER,
        ),
      ],
      highestSeqNr: highest(this.#streams.get(persistenceId)),
    }
  }

  async deleteTo(persistenceId: string, toSeqNr: number): Promise<void> {
    this.#assertOpen()
    checkText(persistenceId, 'persistenceId')
    const stream = this.#streams.get(persistenceId)
    if (!stream || toSeqNr <= stream.deletedTo) return
    stream.deletedTo = Math.min(toSeqNr, highest(stream))
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#commits.complete()
  }

  /** A read journal over this journal, woken by every append. */
  readJournal(config: Omit<PollingReadJournalConfig, 'wakeUps'> = {}): ReadJournal {
    return createPollingReadJournal(this, { ...config, wakeUps: this.#commits })
  }

  // EventPageSource
  readByPersistenceId(
    persistenceId: string,
    fromSeqNr: number,
    toSeqNr: number,
    limit: number,
  ): EventEnvelope[] {
    const stream = this.#streams.get(persistenceId)
    if (!stream || limit <= 0) return []
    const from = Math.max(fromSeqNr, stream.deletedTo + 1, 1)
    return stream.events.slice(from - 1, Math.min(toSeqNr, from - 1 + limit))
  }

  readByTag(tag: string, afterOrdering: number, limit: number): EventEnvelope[] {
    const list = this.#byTag.get(tag)
    if (!list) return []
    return this.#visible(list, firstAfter(list, afterOrdering), limit)
  }

  readAll(afterOrdering: number, limit: number): EventEnvelope[] {
    return this.#visible(this.#all, Math.max(0, afterOrdering), limit)
  }

  readPersistenceIds(afterPosition: number, limit: number): { persistenceId: string; position: number }[] {
    const out: { persistenceId: string; position: number }[] = []
    for (const [persistenceId, stream] of this.#streams) {
      if (stream.position > afterPosition) out.push({ persistenceId, position: stream.position })
      if (out.length >= limit) break
    }
    return out
  }

  highestOrdering(): number {
    return this.#all.length
  }

  #visible(list: readonly EventEnvelope[], start: number, limit: number): EventEnvelope[] {
    const out: EventEnvelope[] = []
    for (let i = start; i < list.length && out.length < limit; i++) {
      const envelope = list[i]!
      if (envelope.seqNr > this.#streams.get(envelope.persistenceId)!.deletedTo) out.push(envelope)
    }
    return out
  }

  #createStream(persistenceId: string): Stream {
    const stream: Stream = { position: this.#streams.size + 1, events: [], deletedTo: 0 }
    this.#streams.set(persistenceId, stream)
    return stream
  }

  #assertOpen(): void {
    if (this.#closed) throw new StatesourceError('JOURNAL_FAILURE', 'The in-memory journal is closed.')
  }
}

/** The texts of a request that a SQL journal would store in text columns must be well-formed. */
function checkAppendTexts(request: AppendRequest): void {
  checkText(request.persistenceId, 'persistenceId')
  for (const event of request.events) {
    checkText(event.type, 'event type')
    checkTexts(event.tags, 'tag')
  }
}

function highest(stream: Stream | undefined): number {
  return stream ? stream.events.length : 0
}

/** Index of the first envelope with `ordering > after` in a list sorted by ordering. */
function firstAfter(list: readonly EventEnvelope[], after: number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (list[mid]!.ordering <= after) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Creates an {@link InMemoryJournal}. */
export function createInMemoryJournal(config: InMemoryJournalConfig = {}): InMemoryJournal {
  return new InMemoryJournal(config)
}
