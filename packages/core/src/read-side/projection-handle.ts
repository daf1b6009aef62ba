import { createStore } from '@xstate/store'
import { Observable } from 'rxjs'
import { NotConfiguredError, StatesourceError, TimeoutError } from '../errors.ts'
import type { DeadLetter } from './dead-letter-store.ts'
import { type EventPosition, ProjectionError } from './reader-errors.ts'

/**
 * Where a reader is:
 * - `idle`: defined, its topology not materialized yet;
 * - `starting`: loading its offset and state;
 * - `running`: applying events;
 * - `caught-up`: nothing it should apply is stored after its offset;
 * - `rebuilding`: `rebuildProjection` is replaying it;
 * - `halted`: stopped at a failing event (`error` says which);
 * - `stopped`: its handles were stopped.
 */
export type ReaderPhase = 'idle' | 'starting' | 'running' | 'caught-up' | 'rebuilding' | 'halted' | 'stopped'

/** An event a reader skipped (error policy `'skip'`), with its position and the error. */
export interface SkippedEvent extends EventPosition {
  readonly error: string
  readonly attempts: number
}

/**
 * A reader's status: phase, offset, lag and counters.
 *
 * @example
 * ```ts
 * const status: ReaderStatus = handle.status
 * if (status.phase === 'halted') console.log(status.error?.message)
 * ```
 */
export interface ReaderStatus {
  readonly name: string
  readonly phase: ReaderPhase
  /** The global ordering up to which the projection reflects the journal. */
  readonly offset: number
  /**
   * Events after the offset the reader has not applied yet. Exact from `refreshStatus()` / `readerStatus()`
   * (a filtered reader's is counted up to its `lagCountLimit`); otherwise the last known value, 0 when caught up.
   */
  readonly lag: number
  /** Events applied since the runner started (or was rebuilt). */
  readonly applied: number
  /** Extra attempts made by retries. */
  readonly retries: number
  readonly skipped: number
  readonly deadLettered: number
  /** Set while halted: the event it stopped at and why. */
  readonly error: ProjectionError | undefined
  /** The last failure of any kind (also when skipped, parked or retried successfully). */
  readonly lastFailure: { readonly position: EventPosition | undefined; readonly message: string } | undefined
}

/** A subscription returned by {@link ProjectionHandle.subscribe}. */
export interface ProjectionSubscription {
  unsubscribe(): void
}

/** A memoised view of a projection, returned by {@link ProjectionHandle.select}. */
export interface ProjectionSelection<T> {
  get(): T
  /** Called when the selected value changes (not with the current value). */
  subscribe(listener: (value: T) => void): ProjectionSubscription
  /** Emits the current value on subscribe, then every change. */
  readonly value$: Observable<T>
}

/** Options of {@link ProjectionHandle.waitForOffset}. */
export interface WaitForOffsetOptions {
  /** Reject with a TimeoutError after this long. Default 5,000 ms. */
  readonly timeout?: number
  readonly signal?: AbortSignal
}

/** Default timeout of {@link ProjectionHandle.waitForOffset}. */
export const DEFAULT_WAIT_TIMEOUT_MS = 5_000

/**
 * A live projection: its state, offset and status, backed by an @xstate/store store that the runner updates
 * once per page of events. `builder.withReader(reader)` returns it.
 *
 * @example
 * ```ts
 * const totals = builder.withReader(totalsReader)
 * const handles = await builder.build().materialize()
 * const result = await handles.repository(account).send('a-1', { type: 'deposit', amount: 5 })
 * const state = await totals.waitForOffset(result.ordering) // read your own write
 * ```
 */
export interface ProjectionHandle<TState> {
  readonly name: string
  /** The current state. */
  readonly state: TState
  /** The global ordering up to which `state` reflects the journal (not a per-stream number). */
  readonly offset: number
  readonly status: ReaderStatus
  /** Called after each change of state or offset (not with the current value; use `state$` for that). */
  subscribe(listener: (state: TState) => void): ProjectionSubscription
  select<T>(selector: (state: TState) => T, equal?: (a: T, b: T) => boolean): ProjectionSelection<T>
  /** Emits the current state on subscribe, then every change. */
  readonly state$: Observable<TState>
  readonly status$: Observable<ReaderStatus>
  /**
   * Resolves with the state once the offset reaches `ordering` (e.g. `SendResult.ordering`). Rejects with a
   * TimeoutError after `timeout`, or a ProjectionError when the reader halts or stops first.
   */
  waitForOffset(ordering: number, options?: WaitForOffsetOptions): Promise<TState>
  /** Computes the lag exactly (bounded by `lagCountLimit` for filtered readers) and returns the status. */
  refreshStatus(): Promise<ReaderStatus>
  /** Restarts a halted reader at the event it stopped at. No-op otherwise. */
  resume(): Promise<void>
  /** Same as `handles.rebuildProjection(name)`. */
  rebuild(): Promise<void>
  /** The newest skipped events (up to the reader's `skipLogSize`), oldest first. */
  skippedEvents(): readonly SkippedEvent[]
  /** This reader's parked events. */
  deadLetters(): Promise<DeadLetter[]>
  /** Applies a parked event to the current state; on success removes it from the store, else rethrows. */
  replayDeadLetter(id: number): Promise<TState>
}

/** @internal What the runner offers the handle. */
export interface ReaderController {
  requestWatermark(): void
  refreshStatus(): Promise<ReaderStatus>
  resume(): Promise<void>
  rebuild(): Promise<void>
  skippedEvents(): readonly SkippedEvent[]
  deadLetters(): Promise<DeadLetter[]>
  replayDeadLetter(id: number): Promise<void>
}

interface Context<TState> {
  state: TState
  offset: number
  status: ReaderStatus
}

interface Waiter<TState> {
  readonly ordering: number
  readonly resolve: (state: TState) => void
  readonly reject: (error: Error) => void
}

/** @internal */
export function idleStatus(name: string): ReaderStatus {
  return {
    name,
    phase: 'idle',
    offset: 0,
    lag: 0,
    applied: 0,
    retries: 0,
    skipped: 0,
    deadLettered: 0,
    error: undefined,
    lastFailure: undefined,
  }
}

/** @internal The default ProjectionHandle: an @xstate/store store plus offset waiters. */
export class StoreProjectionHandle<TState> implements ProjectionHandle<TState> {
  readonly name: string
  readonly #store
  #waiters: Waiter<TState>[] = []
  #controller: ReaderController | undefined

  constructor(name: string, initialState: TState) {
    this.name = name
    this.#store = createStore({
      context: { state: initialState, offset: 0, status: idleStatus(name) } as Context<TState>,
      on: {
        published: (_context: Context<TState>, event: Context<TState>): Context<TState> => ({
          state: event.state,
          offset: event.offset,
          status: event.status,
        }),
      },
    })
  }

  get state(): TState {
    return this.#store.getSnapshot().context.state
  }

  get offset(): number {
    return this.#store.getSnapshot().context.offset
  }

  get status(): ReaderStatus {
    return this.#store.getSnapshot().context.status
  }

  subscribe(listener: (state: TState) => void): ProjectionSubscription {
    return this.#store
      .select(
        (c) => c,
        (a, b) => a.state === b.state && a.offset === b.offset,
      )
      .subscribe((c) => listener(c.state))
  }

  select<T>(
    selector: (state: TState) => T,
    equal: (a: T, b: T) => boolean = Object.is,
  ): ProjectionSelection<T> {
    const selection = this.#store.select((c) => selector(c.state), equal)
    return {
      get: () => selection.get(),
      subscribe: (listener) => selection.subscribe(listener),
      value$: new Observable<T>((subscriber) => {
        subscriber.next(selection.get())
        return selection.subscribe((value) => subscriber.next(value))
      }),
    }
  }

  get state$(): Observable<TState> {
    return new Observable<TState>((subscriber) => {
      subscriber.next(this.state)
      return this.subscribe((state) => subscriber.next(state))
    })
  }

  get status$(): Observable<ReaderStatus> {
    return this.select(() => this.status).value$
  }

  waitForOffset(ordering: number, options: WaitForOffsetOptions = {}): Promise<TState> {
    if (!(Number.isInteger(ordering) && ordering >= 0)) {
      return Promise.reject(
        new StatesourceError(
          'INVALID_INPUT',
          `waitForOffset on projection "${this.name}" needs a global ordering (an integer of at least 0), got ${String(ordering)}. Pass SendResult.ordering.`,
        ),
      )
    }
    if (this.offset >= ordering) return Promise.resolve(this.state)
    const status = this.status
    if (status.phase === 'halted' && status.error) return Promise.reject(status.error)
    const timeout = options.timeout ?? DEFAULT_WAIT_TIMEOUT_MS
    return new Promise<TState>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const onAbort = () =>
        settle(() =>
          reject(options.signal?.reason ?? new StatesourceError('ABORTED', 'waitForOffset was aborted.')),
        )
      const settle = (fn: () => void) => {
        if (timer) clearTimeout(timer)
        options.signal?.removeEventListener('abort', onAbort)
        this.#waiters = this.#waiters.filter((w) => w !== waiter)
        fn()
      }
      const waiter: Waiter<TState> = {
        ordering,
        resolve: (state) => settle(() => resolve(state)),
        reject: (error) => settle(() => reject(error)),
      }
      if (options.signal?.aborted) return onAbort()
      options.signal?.addEventListener('abort', onAbort, { once: true })
      if (Number.isFinite(timeout)) {
        timer = setTimeout(
          () =>
            waiter.reject(
              new TimeoutError(
                `waitForOffset(${ordering}) on projection "${this.name}" (at ${this.offset})`,
                timeout,
              ),
            ),
          timeout,
        )
      }
      this.#waiters.push(waiter)
      this.#controller?.requestWatermark()
    })
  }

  async refreshStatus(): Promise<ReaderStatus> {
    return this.#require().refreshStatus()
  }

  async resume(): Promise<void> {
    return this.#require().resume()
  }

  async rebuild(): Promise<void> {
    return this.#require().rebuild()
  }

  skippedEvents(): readonly SkippedEvent[] {
    return this.#controller?.skippedEvents() ?? []
  }

  async deadLetters(): Promise<DeadLetter[]> {
    return this.#require().deadLetters()
  }

  async replayDeadLetter(id: number): Promise<TState> {
    await this.#require().replayDeadLetter(id)
    return this.state
  }

  /** @internal */
  attach(controller: ReaderController | undefined): void {
    this.#controller = controller
  }

  /**
   * @internal Handed to a reader placement by a materialization: in use even while its reader runs in another
   * process (and so is not attached here), until that materialization stops.
   */
  placed = false

  /** @internal */
  get attached(): boolean {
    return this.#controller !== undefined
  }

  /** @internal */
  get hasWaiters(): boolean {
    return this.#waiters.length > 0
  }

  /** @internal One store transition per page of events; settles the waiters it satisfies. */
  publish(state: TState, offset: number, status: ReaderStatus): void {
    this.#store.trigger.published({ state, offset, status })
    if (this.#waiters.length > 0) {
      for (const waiter of [...this.#waiters]) if (offset >= waiter.ordering) waiter.resolve(state)
    }
  }

  /** @internal Rejects every waiter (the reader halted or stopped). */
  failWaiters(error: Error): void {
    for (const waiter of [...this.#waiters]) waiter.reject(error)
  }

  #require(): ReaderController {
    if (!this.#controller) {
      throw new NotConfiguredError(
        'materialize',
        `Projection "${this.name}" is not running in this process: materialize the topology it was added to first (with a reader placement, such as a cluster's, it may run in another process).`,
      )
    }
    return this.#controller
  }
}

/** @internal */
export function stoppedError(name: string): ProjectionError {
  return new ProjectionError(
    name,
    undefined,
    `Projection "${name}" was stopped. Materialize the topology again to restart it.`,
  )
}
