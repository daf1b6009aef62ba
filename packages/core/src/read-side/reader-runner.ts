import { firstValueFrom, type Subscription, take, toArray } from 'rxjs'
import type { DomainEvent, EventCodecRegistry } from '../codec/event-codec-registry.ts'
import { NotConfiguredError, StatesourceError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { EventEnvelope } from '../persistence/envelope.ts'
import type { OffsetStore } from '../persistence/offset-store.ts'
import type { ReadJournal } from '../persistence/read-journal.ts'
import type { DeadLetter, DeadLetterStore } from './dead-letter-store.ts'
import type {
  ReaderController,
  ReaderPhase,
  ReaderStatus,
  SkippedEvent,
  StoreProjectionHandle,
} from './projection-handle.ts'
import { stoppedError } from './projection-handle.ts'
import {
  DEFAULT_CHECKPOINT_EVENTS,
  DEFAULT_CHECKPOINT_MS,
  type Reader,
  type ReaderErrorPolicy,
  type ReaderRetry,
  retryDelay,
  type TransactionalOffsetStore,
} from './reader.ts'
import { messageOf, ProjectionError, positionOf } from './reader-errors.ts'
import { queryFor, ReaderFilter } from './reader-filter.ts'

/** @internal Everything a runner needs from its topology. */
export interface ReaderRunnerConfig<TState> {
  readonly reader: Reader<TState, DomainEvent>
  readonly handle: StoreProjectionHandle<TState>
  readonly readJournal: ReadJournal
  readonly codecs: EventCodecRegistry
  readonly offsetStore: OffsetStore
  readonly deadLetters: DeadLetterStore
  /** The builder's `readerRetry`, unless the reader overrides it. */
  readonly retry: ReaderRetry | undefined
  readonly logger: Logger
  /** While a caller waits on an offset the reader may not see (a filtered reader), how often to re-check. */
  readonly pollIntervalMs: number
}

/** What one synchronous run over a page ended with. */
interface Segment {
  /** Index of the event the run stopped at (the page's length when it finished). */
  next: number
  failure?: { error: unknown; decode: boolean }
  pending?: PromiseLike<unknown>
}

const DEFAULT_SKIP_LOG = 100
const DEFAULT_LAG_COUNT_LIMIT = 10_000

/**
 * @internal One reader's pipeline over the read journal: the filter's live query → page batching → decode →
 * fold → publish (one store transition per page) → checkpoint. Pages are applied synchronously while the fold
 * is synchronous; when it goes asynchronous (async apply, retry backoff, parking) the query is unsubscribed and
 * re-subscribed after the page, so memory stays bounded by one page.
 */
export class ReaderRunner<TState> implements ReaderController {
  readonly #c: ReaderRunnerConfig<TState>
  readonly #reader: Reader<TState, DomainEvent>
  readonly #name: string
  readonly #filter: ReaderFilter
  readonly #policy: ReaderErrorPolicy
  readonly #retry: ReaderRetry | undefined
  readonly #tx: TransactionalOffsetStore | undefined
  /** Resumes from stored offsets: the state outlives the process (loadState) or commits with them (transactional). */
  readonly #durable: boolean
  readonly #everyEvents: number
  readonly #everyMs: number
  readonly #skipLogSize: number

  #state: TState
  #offset = 0
  #seqCursor = 1
  #phase: ReaderPhase = 'idle'
  #generation = 0
  #sub: Subscription | undefined
  #buffer: EventEnvelope[] = []
  #flushScheduled = false
  #busy: Promise<void> | undefined
  #applied = 0
  #retries = 0
  #skipped = 0
  /** Halted because the offset or state could not be loaded: resume() starts over rather than continues. */
  #startFailed = false
  #deadLettered = 0
  #lag = 0
  #error: ProjectionError | undefined
  #lastFailure: ReaderStatus['lastFailure']
  #skipLog: SkippedEvent[] = []

  #savedOffset = 0
  #sinceSave = 0
  #lastSaveAt = Date.now()
  #saving: Promise<void> | undefined
  #saveTimer: ReturnType<typeof setTimeout> | undefined

  #refreshTimer: ReturnType<typeof setTimeout> | undefined
  #refreshing = false
  #refreshAgain = false
  #rebuilds: Promise<void> = Promise.resolve()

  constructor(config: ReaderRunnerConfig<TState>) {
    this.#c = config
    const reader = config.reader
    this.#reader = reader
    this.#name = reader.name
    this.#filter = reader.filter ?? ReaderFilter.all()
    this.#policy = reader.errorPolicy ?? 'halt'
    this.#retry = reader.retry === false ? undefined : (reader.retry ?? config.retry)
    this.#tx = reader.transactional
    this.#durable = reader.transactional !== undefined || reader.loadState !== undefined
    this.#everyEvents = reader.checkpoint?.everyEvents ?? DEFAULT_CHECKPOINT_EVENTS
    this.#everyMs = reader.checkpoint?.everyMs ?? DEFAULT_CHECKPOINT_MS
    this.#skipLogSize = reader.skipLogSize ?? DEFAULT_SKIP_LOG
    this.#state = reader.initialState
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Loads the offset (and state) and starts following the journal. Never rejects: a reader whose offset or
   * state cannot be loaded starts halted with that error, and the other readers and the gateway run on.
   */
  async start(): Promise<void> {
    this.#phase = 'starting'
    this.#c.handle.attach(this)
    const generation = this.#generation
    let stored: number | undefined
    try {
      stored = this.#tx
        ? this.#tx.loadOffset(this.#name)
        : this.#durable
          ? await this.#c.offsetStore.load(this.#name)
          : undefined
      this.#state =
        stored !== undefined && this.#reader.loadState
          ? await this.#reader.loadState()
          : this.#reader.initialState
    } catch (error) {
      if (generation !== this.#generation) return
      // Nothing is saved here: the stored offset must not be overwritten by one that was never loaded.
      this.#startFailed = true
      this.#phase = 'halted'
      this.#error = new ProjectionError(
        this.#name,
        undefined,
        `Reader "${this.#name}" could not load its offset or state at start: ${messageOf(error)}. It is halted; the other readers and the write side run on. Fix the cause, then call resume() on its handle.`,
        { cause: error },
      )
      this.#c.logger.error(this.#error.message, { error })
      this.#publish()
      return
    }
    // Stopped while loading (a reader placed elsewhere meanwhile): it must not start following.
    if (generation !== this.#generation) return
    this.#startFailed = false
    this.#offset = stored ?? 0
    this.#savedOffset = this.#offset
    this.#phase = 'running'
    this.#publish()
    this.#subscribe()
    this.#scheduleRefresh()
  }

  async stop(): Promise<void> {
    if (this.#phase === 'stopped') return
    this.#generation++
    this.#unsubscribe()
    this.#buffer = []
    await this.#busy?.catch(() => undefined)
    this.#clearTimers()
    await this.#saveNow()
    this.#phase = 'stopped'
    this.#publish()
    this.#c.handle.failWaiters(stoppedError(this.#name))
    this.#c.handle.attach(undefined)
  }

  // ---------------------------------------------------------------- the pipeline

  #subscribe(): void {
    const generation = this.#generation
    this.#sub = queryFor(this.#c.readJournal, this.#filter, this.#offset, true, this.#seqCursor).subscribe({
      next: (envelope) => {
        this.#buffer.push(envelope)
        if (!this.#flushScheduled) {
          this.#flushScheduled = true
          // A page is emitted synchronously; flushing on the next microtask folds it as one batch.
          queueMicrotask(this.#flush)
        }
      },
      error: (error) => {
        if (generation !== this.#generation) return
        this.#sub = undefined
        this.#lastFailure = { position: undefined, message: messageOf(error) }
        this.#c.logger.warn(
          `Reader "${this.#name}": its query failed, retrying in ${this.#c.pollIntervalMs} ms: ${messageOf(error)}`,
          {
            error,
          },
        )
        const timer = setTimeout(() => {
          if (generation === this.#generation && this.#isActive() && !this.#sub && !this.#busy)
            this.#subscribe()
        }, this.#c.pollIntervalMs)
        timer.unref?.()
      },
    })
  }

  #unsubscribe(): void {
    this.#sub?.unsubscribe()
    this.#sub = undefined
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false
    if (this.#busy || this.#buffer.length === 0) return
    const batch = this.#buffer
    this.#buffer = []
    if (this.#phase === 'caught-up') this.#phase = 'running'
    const generation = this.#generation
    const pending = this.#process(batch, 0, generation)
    if (pending) {
      // Stop reading while the page finishes asynchronously; resume after it from the new offset.
      this.#unsubscribe()
      this.#buffer = []
      this.#busy = pending
        .catch((error: unknown) => {
          // Only infrastructure can fail here (a transactional commit while skipping); never lose the event.
          const envelope = batch.find((e) => e.ordering > this.#offset)
          if (generation === this.#generation && envelope) {
            this.#halt(ProjectionError.halted(this.#name, positionOf(envelope), error, 1))
          }
        })
        .finally(() => {
          this.#busy = undefined
          if (generation === this.#generation && this.#isActive() && !this.#sub) this.#subscribe()
          this.#afterBusy()
        })
      return
    }
    this.#scheduleRefresh()
  }

  /** Folds `batch` from index `i`; returns a promise only when part of it has to wait. */
  #process(batch: readonly EventEnvelope[], i: number, generation: number): Promise<void> | undefined {
    const segment = this.#tx ? this.#segmentInTransaction(batch, i) : this.#segment(batch, i)
    this.#publish()
    this.#maybeCheckpoint()
    const envelope = batch[segment.next]
    if (segment.pending && envelope) {
      return Promise.resolve(segment.pending).then(
        (state) => {
          if (generation !== this.#generation) return
          this.#state = state as TState
          this.#markApplied(envelope)
          return this.#process(batch, segment.next + 1, generation)
        },
        (error) => this.#continueAfterFailure(batch, segment.next, error, false, generation),
      )
    }
    if (segment.failure && envelope) {
      return this.#continueAfterFailure(
        batch,
        segment.next,
        segment.failure.error,
        segment.failure.decode,
        generation,
      )
    }
    return undefined
  }

  async #continueAfterFailure(
    batch: readonly EventEnvelope[],
    index: number,
    error: unknown,
    decode: boolean,
    generation: number,
  ): Promise<void> {
    const go = await this.#handleFailure(batch[index]!, error, decode, generation)
    if (go && generation === this.#generation) await this.#process(batch, index + 1, generation)
  }

  /** The hot path: decode and fold synchronously until the page ends, an apply fails or returns a promise. */
  #segment(batch: readonly EventEnvelope[], start: number): Segment {
    const codecs = this.#c.codecs
    const reader = this.#reader
    let state = this.#state
    let i = start
    try {
      for (; i < batch.length; i++) {
        const envelope = batch[i]!
        let event: DomainEvent
        try {
          event = codecs.decode(envelope)
        } catch (error) {
          return { next: i, failure: { error, decode: true } }
        }
        const out = reader.apply(state, event, envelope)
        if (isThenable(out)) return { next: i, pending: out }
        state = out
        this.#offset = envelope.ordering
        this.#seqCursor = envelope.seqNr + 1
        this.#applied++
        this.#sinceSave++
      }
      return { next: i }
    } catch (error) {
      return { next: i, failure: { error, decode: false } }
    } finally {
      this.#state = state
    }
  }

  /** Exactly-once: a page's applies and its offset commit together; each event runs in its own savepoint. */
  #segmentInTransaction(batch: readonly EventEnvelope[], start: number): Segment {
    const tx = this.#tx!
    const before = {
      state: this.#state,
      offset: this.#offset,
      seqCursor: this.#seqCursor,
      applied: this.#applied,
    }
    let result: Segment = { next: batch.length }
    try {
      tx.transaction(() => {
        for (let i = start; i < batch.length; i++) {
          const envelope = batch[i]!
          let event: DomainEvent
          try {
            event = this.#c.codecs.decode(envelope)
          } catch (error) {
            result = { next: i, failure: { error, decode: true } }
            break
          }
          try {
            this.#state = tx.transaction(() => this.#applySync(this.#state, event, envelope))
          } catch (error) {
            result = { next: i, failure: { error, decode: false } }
            break
          }
          this.#offset = envelope.ordering
          this.#seqCursor = envelope.seqNr + 1
          this.#applied++
        }
        if (this.#offset !== before.offset) tx.saveOffset(this.#name, this.#offset)
      })
      this.#savedOffset = this.#offset
    } catch (error) {
      // The commit itself failed: nothing of this segment is durable, so forget it in memory too.
      this.#state = before.state
      this.#offset = before.offset
      this.#seqCursor = before.seqCursor
      this.#applied = before.applied
      return { next: start, failure: { error, decode: false } }
    }
    return result
  }

  #applySync(state: TState, event: DomainEvent, envelope: EventEnvelope): TState {
    const out = this.#reader.apply(state, event, envelope)
    if (isThenable(out)) {
      throw new NotConfiguredError(
        'transactional',
        `Reader "${this.#name}" is transactional but its apply returned a promise: transactional applies must be synchronous.`,
      )
    }
    return out
  }

  #markApplied(envelope: EventEnvelope): void {
    this.#offset = envelope.ordering
    this.#seqCursor = envelope.seqNr + 1
    this.#applied++
    this.#sinceSave++
  }

  /** Applies one event (decode, fold, and for transactional readers the offset) or throws. */
  async #applyOne(envelope: EventEnvelope): Promise<void> {
    const event = this.#c.codecs.decode(envelope)
    if (this.#tx) {
      const tx = this.#tx
      this.#state = tx.transaction(() => {
        const next = this.#applySync(this.#state, event, envelope)
        if (envelope.ordering > this.#offset) tx.saveOffset(this.#name, envelope.ordering)
        return next
      })
      if (envelope.ordering > this.#offset) {
        this.#offset = envelope.ordering
        this.#savedOffset = this.#offset
        this.#seqCursor = envelope.seqNr + 1
        this.#applied++
      }
      return
    }
    this.#state = await this.#reader.apply(this.#state, event, envelope)
    if (envelope.ordering > this.#offset) this.#markApplied(envelope)
  }

  /** Retries, then applies the error policy. Resolves true when the reader moves past the event. */
  async #handleFailure(
    envelope: EventEnvelope,
    error: unknown,
    decode: boolean,
    generation: number,
  ): Promise<boolean> {
    let attempts = 1
    let last = error
    const position = positionOf(envelope)
    // Decoding is deterministic: retrying an unknown manifest cannot help, so it goes straight to the policy.
    if (!decode && this.#retry) {
      while (attempts < this.#retry.maxAttempts) {
        await sleep(retryDelay(this.#retry, attempts))
        if (generation !== this.#generation) return false
        attempts++
        this.#retries++
        try {
          await this.#applyOne(envelope)
          this.#lastFailure = { position, message: messageOf(last) }
          this.#publish()
          this.#maybeCheckpoint()
          return true
        } catch (retryError) {
          last = retryError
        }
      }
    }
    if (generation !== this.#generation) return false
    const message = messageOf(last)
    this.#lastFailure = { position, message }
    switch (this.#policy) {
      case 'halt': {
        this.#halt(ProjectionError.halted(this.#name, position, last, attempts))
        return false
      }
      case 'skip': {
        this.#c.logger.warn(
          `Reader "${this.#name}" skipped event ${position.seqNr} of "${position.persistenceId}" (ordering ${position.ordering}) after ${attempts} attempt(s): ${message}`,
          { error: last },
        )
        this.#skipped++
        this.#skipLog.push({ ...position, error: message, attempts })
        if (this.#skipLog.length > this.#skipLogSize) this.#skipLog.shift()
        this.#advancePast(envelope)
        return true
      }
      case 'dead-letter': {
        try {
          await this.#c.deadLetters.park({
            projection: this.#name,
            envelope,
            error: message,
            attempts,
            parkedAt: Date.now(),
          })
        } catch (parkError) {
          // Moving on without the event parked would lose it: stop here instead.
          this.#halt(ProjectionError.halted(this.#name, position, parkError, attempts))
          return false
        }
        if (generation !== this.#generation) return false
        this.#c.logger.warn(
          `Reader "${this.#name}" parked event ${position.seqNr} of "${position.persistenceId}" (ordering ${position.ordering}) in the dead-letter store: ${message}`,
          { error: last },
        )
        this.#deadLettered++
        this.#advancePast(envelope)
        return true
      }
    }
  }

  #advancePast(envelope: EventEnvelope): void {
    this.#offset = Math.max(this.#offset, envelope.ordering)
    this.#seqCursor = envelope.seqNr + 1
    if (this.#tx) {
      const tx = this.#tx
      tx.transaction(() => tx.saveOffset(this.#name, this.#offset))
      this.#savedOffset = this.#offset
    } else this.#sinceSave++
    this.#publish()
    this.#maybeCheckpoint()
  }

  #halt(error: ProjectionError): void {
    this.#unsubscribe()
    this.#buffer = []
    this.#phase = 'halted'
    this.#error = error
    this.#c.logger.error(error.message, { error })
    this.#publish()
    void this.#saveNow()
    this.#c.handle.failWaiters(error)
  }

  // ---------------------------------------------------------------- publish and status

  #isActive(): boolean {
    return this.#phase === 'running' || this.#phase === 'caught-up' || this.#phase === 'rebuilding'
  }

  #status(): ReaderStatus {
    return {
      name: this.#name,
      phase: this.#phase,
      offset: this.#offset,
      lag: this.#lag,
      applied: this.#applied,
      retries: this.#retries,
      skipped: this.#skipped,
      deadLettered: this.#deadLettered,
      error: this.#error,
      lastFailure: this.#lastFailure,
    }
  }

  #publish(): void {
    this.#c.handle.publish(this.#state, this.#offset, this.#status())
  }

  #scheduleRefresh(delay = 0): void {
    if (this.#refreshTimer || !this.#isActive()) return
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = undefined
      void this.#refresh()
    }, delay)
    this.#refreshTimer.unref?.()
  }

  requestWatermark(): void {
    this.#scheduleRefresh()
  }

  /**
   * Finds out whether anything the reader should apply is stored after its offset. When nothing is, every
   * event up to the head is accounted for (a tag reader's offset then passes events without its tag), so
   * `waitForOffset` resolves for any ordering already written.
   */
  async #refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#refreshAgain = true
      return
    }
    this.#refreshing = true
    try {
      do {
        this.#refreshAgain = false
        const generation = this.#generation
        const head = await this.#c.readJournal.highestOrdering()
        const from = this.#offset
        const next = await firstValueFrom(
          queryFor(this.#c.readJournal, this.#filter, from, false, this.#seqCursor).pipe(take(1)),
          { defaultValue: undefined },
        )
        if (generation !== this.#generation || !this.#isActive()) return
        if (next === undefined && this.#buffer.length === 0 && !this.#busy) {
          if (head > this.#offset) {
            this.#offset = head
            if (this.#tx) {
              const tx = this.#tx
              tx.transaction(() => tx.saveOffset(this.#name, head))
              this.#savedOffset = head
            }
          }
          this.#lag = 0
          if (this.#phase === 'running') this.#phase = 'caught-up'
        } else if (next !== undefined) {
          this.#lag = Math.max(1, head - this.#offset)
          if (this.#phase === 'caught-up') this.#phase = 'running'
        }
        this.#publish()
        this.#maybeCheckpoint()
      } while (this.#refreshAgain)
    } catch (error) {
      this.#c.logger.warn(`Reader "${this.#name}": checking its lag failed: ${messageOf(error)}`, { error })
    } finally {
      this.#refreshing = false
    }
    if (this.#c.handle.hasWaiters) this.#scheduleRefresh(this.#c.pollIntervalMs)
  }

  async refreshStatus(): Promise<ReaderStatus> {
    if (this.#isActive() || this.#phase === 'halted') {
      const head = await this.#c.readJournal.highestOrdering()
      if (this.#filter.kind === 'all') this.#lag = Math.max(0, head - this.#offset)
      else {
        const limit = this.#reader.lagCountLimit ?? DEFAULT_LAG_COUNT_LIMIT
        const pending = await firstValueFrom(
          queryFor(this.#c.readJournal, this.#filter, this.#offset, false, this.#seqCursor).pipe(
            take(limit),
            toArray(),
          ),
        )
        this.#lag = pending.length
      }
      if (this.#lag === 0 && this.#phase === 'running' && !this.#busy && this.#buffer.length === 0)
        this.#phase = 'caught-up'
      this.#publish()
    }
    return this.#status()
  }

  // ---------------------------------------------------------------- checkpoints (at-least-once)

  #maybeCheckpoint(): void {
    if (this.#tx || !this.#durable || this.#offset === this.#savedOffset) return
    if (this.#sinceSave >= this.#everyEvents || Date.now() - this.#lastSaveAt >= this.#everyMs) {
      void this.#saveNow()
      return
    }
    if (!this.#saveTimer) {
      this.#saveTimer = setTimeout(() => {
        this.#saveTimer = undefined
        void this.#saveNow()
      }, this.#everyMs)
      this.#saveTimer.unref?.()
    }
  }

  async #saveNow(): Promise<void> {
    if (this.#tx || !this.#durable) return
    while (this.#saving) await this.#saving
    const offset = this.#offset
    if (offset === this.#savedOffset) return
    this.#sinceSave = 0
    this.#lastSaveAt = Date.now()
    this.#saving = this.#c.offsetStore.save(this.#name, offset).then(
      () => {
        this.#savedOffset = Math.max(this.#savedOffset, offset)
      },
      (error) => {
        this.#c.logger.warn(
          `Reader "${this.#name}": saving its offset ${offset} failed: ${messageOf(error)}`,
          { error },
        )
      },
    )
    try {
      await this.#saving
    } finally {
      this.#saving = undefined
    }
  }

  #clearTimers(): void {
    if (this.#saveTimer) clearTimeout(this.#saveTimer)
    if (this.#refreshTimer) clearTimeout(this.#refreshTimer)
    this.#saveTimer = undefined
    this.#refreshTimer = undefined
  }

  // ---------------------------------------------------------------- control

  async resume(): Promise<void> {
    if (this.#phase !== 'halted') return
    if (this.#startFailed) {
      this.#error = undefined
      return this.start()
    }
    this.#error = undefined
    this.#phase = 'running'
    this.#publish()
    this.#subscribe()
  }

  rebuild(): Promise<void> {
    const run = this.#rebuilds.then(() => this.#rebuild())
    this.#rebuilds = run.catch(() => undefined)
    return run
  }

  async #rebuild(): Promise<void> {
    if (this.#phase === 'stopped' || this.#phase === 'idle' || this.#phase === 'starting') {
      throw new StatesourceError(
        'PROJECTION_FAILED',
        `Projection "${this.#name}" is ${this.#phase}; rebuild it once its topology is materialized.`,
      )
    }
    // Pause: stop the live query and let an in-flight page finish, so nothing interleaves with the replay.
    const generation = ++this.#generation
    this.#unsubscribe()
    this.#buffer = []
    await this.#busy?.catch(() => undefined)
    await this.#saving
    this.#clearTimers()
    this.#phase = 'rebuilding'
    this.#error = undefined
    const target = await this.#c.readJournal.highestOrdering()
    if (this.#tx) {
      const tx = this.#tx
      tx.transaction(() => {
        const cleared = this.#reader.reset?.()
        if (isThenable(cleared)) {
          throw new NotConfiguredError(
            'transactional',
            `Reader "${this.#name}" is transactional: its reset() must be synchronous.`,
          )
        }
        tx.resetOffset(this.#name)
      })
    } else {
      await this.#reader.reset?.()
      if (this.#durable) await this.#c.offsetStore.reset(this.#name)
    }
    if (generation !== this.#generation) return
    this.#state = this.#reader.initialState
    this.#offset = 0
    this.#savedOffset = 0
    this.#sinceSave = 0
    this.#seqCursor = 1
    this.#applied = 0
    this.#retries = 0
    this.#skipped = 0
    this.#deadLettered = 0
    this.#skipLog = []
    this.#lag = target
    this.#publish()
    this.#subscribe()
    // Same pipeline, same decode and policy as the live runner: replaying is just running from offset 0.
    try {
      await this.#c.handle.waitForOffset(target, { timeout: Number.POSITIVE_INFINITY })
    } finally {
      if (this.#phase === 'rebuilding') this.#phase = 'running'
      this.#publish()
      this.#scheduleRefresh()
    }
    await this.#saveNow()
  }

  skippedEvents(): readonly SkippedEvent[] {
    return [...this.#skipLog]
  }

  async deadLetters(): Promise<DeadLetter[]> {
    return this.#c.deadLetters.list(this.#name)
  }

  async replayDeadLetter(id: number): Promise<void> {
    const entry = await this.#c.deadLetters.get(id)
    if (!entry || entry.projection !== this.#name) {
      throw new StatesourceError(
        'INVALID_INPUT',
        `No dead letter ${id} for projection "${this.#name}". List them with deadLetters() on its handle.`,
      )
    }
    // Exclusive with page processing: flushes wait while #busy is set and run again afterwards.
    while (this.#busy) await this.#busy.catch(() => undefined)
    const run = (async () => {
      const before = this.#offset
      try {
        const event = this.#c.codecs.decode(entry.envelope)
        if (this.#tx) {
          const tx = this.#tx
          this.#state = tx.transaction(() => this.#applySync(this.#state, event, entry.envelope))
        } else this.#state = await this.#reader.apply(this.#state, event, entry.envelope)
      } catch (error) {
        throw new ProjectionError(
          this.#name,
          positionOf(entry.envelope),
          `Replaying dead letter ${id} of projection "${this.#name}" failed again: ${messageOf(error)}. It stays parked.`,
          { cause: error },
        )
      }
      this.#offset = Math.max(before, this.#offset)
      await this.#c.deadLetters.delete(id)
      this.#deadLettered = Math.max(0, this.#deadLettered - 1)
      this.#publish()
    })()
    this.#busy = run
      .catch(() => undefined)
      .finally(() => {
        this.#busy = undefined
        this.#afterBusy()
      })
    await run
  }

  /** Events that arrived while the reader was busy are folded now. */
  #afterBusy(): void {
    if (this.#buffer.length > 0 && !this.#flushScheduled) {
      this.#flushScheduled = true
      queueMicrotask(this.#flush)
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  )
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
