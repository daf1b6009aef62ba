import { Observable, type Observer } from 'rxjs'
import type { AnyActorLogic, AnyActorRef } from 'xstate'
import type { DomainEvent } from '../codec/event-codec-registry.ts'
import { CQRS_DEFAULTS } from '../defaults.ts'
import { NotConfiguredError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { EventEnvelope, EventMetadata } from '../persistence/envelope.ts'
import { isActorLogic } from './interceptor.ts'

/**
 * A command as taps see it, after it was accepted (or, for taps that ask for them, rejected or failed).
 *
 * @example
 * ```ts
 * const onCommand = (c: TappedCommand) => console.log(c.persistenceId, c.command.type, c.outcome)
 * ```
 */
export interface TappedCommand {
  readonly aggregateType: string
  readonly id: string
  readonly persistenceId: string
  readonly command: { readonly type: string }
  readonly metadata: EventMetadata
  readonly outcome: 'persisted' | 'rejected' | 'failed'
  readonly error?: Error
}

/**
 * What a tap delivers to: a function (may be async: the next item waits for it), an RxJS observer or
 * subject, an actor ref (receives `{ type: 'statesource.event' | 'statesource.command', value }`), or
 * actor logic, which the gateway spawns in its own system and then delivers to the same way.
 *
 * @example
 * ```ts
 * const toConsole: TapTarget<EventEnvelope> = (envelope) => console.log(envelope.type)
 * ```
 */
export type TapTarget<T> =
  | ((value: T) => void | Promise<void>)
  | Partial<Observer<T>>
  | { send(event: { type: string; value: T }): void }
  | AnyActorLogic

/**
 * What happens when a tap's buffer is full: `'drop-oldest'` discards the oldest waiting item (counted in
 * `dropped`, reported once per overflow episode) and keeps going; `'fail'` stops the tap for good
 * (its buffer is cleared, later items are ignored, `failed` becomes true).
 *
 * @example
 * ```ts
 * const policy: TapOverflow = 'fail'
 * ```
 */
export type TapOverflow = 'drop-oldest' | 'fail'

/**
 * The envelope of one of `TEvent`'s events: `type` is the event's type and `payload` the event without it,
 * so checking `envelope.type` narrows the payload. For the erased {@link DomainEvent} it is
 * {@link EventEnvelope} itself.
 *
 * @example
 * ```ts
 * const onEnvelope = (e: EnvelopeOf<{ type: 'deposited'; amount: number }>) => e.payload.amount
 * ```
 */
export type EnvelopeOf<TEvent extends { readonly type: string }> = DomainEvent extends TEvent
  ? EventEnvelope
  : TEvent extends unknown
    ? EventEnvelope<Omit<TEvent, 'type'>> & { readonly type: TEvent['type'] }
    : never

/**
 * A report about one tap's trouble, given to its `onReport` callback (and to the logger and inspection).
 *
 * @example
 * ```ts
 * const onReport = (r: TapReport) => r.kind === 'stopped' && alert(`${r.tap} stopped`)
 * ```
 */
export interface TapReport {
  readonly tap: string
  readonly stream: 'events' | 'commands'
  /** `delivery-failed`: the target threw or rejected; `dropped`: an item was discarded; `stopped`: the tap failed for good. */
  readonly kind: 'delivery-failed' | 'dropped' | 'stopped'
  readonly error?: Error
  /** The item concerned (the dropped or undelivered one). */
  readonly value?: unknown
}

/**
 * A tap: delivered asynchronously after the reply, through its own bounded buffer.
 *
 * @example
 * ```ts
 * const tap: TapConfig = { name: 'outbox', events: (e) => queue.push(e), bufferSize: 1_000, overflow: 'fail' }
 * ```
 */
export interface TapConfig<TEvent extends { readonly type: string } = DomainEvent> {
  readonly name: string
  /** Receives every persisted envelope (typed by event type when given to the builder's `withTap`). */
  readonly events?: TapTarget<EnvelopeOf<TEvent>>
  /** Receives every accepted command (and rejected or failed ones with `includeRejected`). */
  readonly commands?: TapTarget<TappedCommand>
  /** Also deliver rejected and failed commands to `commands`. Default false. */
  readonly includeRejected?: boolean
  /** Buffer capacity in items, per stream. Default 10,000. */
  readonly bufferSize?: number
  /** Default `'drop-oldest'`. */
  readonly overflow?: TapOverflow
  /** Called (synchronously, errors ignored) for each failed delivery, each dropped item, and when the tap stops. */
  readonly onReport?: (report: TapReport) => void
}

/**
 * Live counters of one tap, for monitoring and tests.
 *
 * @example
 * ```ts
 * const [outbox] = handles.tapStatus() // { name: 'outbox', delivered: 3, dropped: 0, ... }
 * ```
 */
export interface TapStatus {
  readonly name: string
  readonly delivered: number
  readonly dropped: number
  readonly errors: number
  readonly buffered: number
  readonly failed: boolean
}

/**
 * Options of a {@link TapHub}.
 *
 * @example
 * ```ts
 * const hub = new TapHub([], silentLogger, { streamBufferSize: 1_000 })
 * ```
 */
export interface TapHubOptions {
  /** Buffer of each `events$` / `commands$` subscription (drop-oldest). Default 10,000. */
  readonly streamBufferSize?: number
}

/**
 * @internal How a gateway lets the hub spawn actor-logic taps in its system and report to inspection.
 */
export interface TapBinding {
  spawn(logic: AnyActorLogic, id: string): AnyActorRef
  stop(ref: AnyActorRef): void
  inspect(type: string, data: Record<string, unknown>): void
}

class TapChannel<T> {
  readonly #buffer: T[] = []
  #head = 0
  #draining = false
  #overflowing = false
  ref: AnyActorRef | undefined
  delivered = 0
  dropped = 0
  errors = 0
  failed = false

  constructor(
    readonly tapName: string,
    readonly stream: 'events' | 'commands',
    readonly target: TapTarget<T>,
    readonly capacity: number,
    readonly overflow: TapOverflow,
    readonly hub: TapHub,
    readonly onReport: ((report: TapReport) => void) | undefined,
  ) {}

  get buffered(): number {
    return this.#buffer.length - this.#head
  }

  offer(value: T): void {
    if (this.failed) return
    if (this.buffered >= this.capacity) {
      if (this.overflow === 'fail') {
        this.failed = true
        this.dropped += this.buffered + 1
        this.#buffer.length = 0
        this.#head = 0
        const error = new Error(
          `Tap "${this.tapName}" overflowed its buffer of ${this.capacity} ${this.stream} and was stopped (overflow policy 'fail'). Raise bufferSize, make the target faster, or use overflow 'drop-oldest'.`,
        )
        this.hub.logger.error(error.message, { tap: this.tapName, stream: this.stream })
        this.#report({ kind: 'stopped', error, value })
        return
      }
      const oldest = this.#buffer[this.#head]
      this.#buffer[this.#head] = undefined as T
      this.#head++
      this.dropped++
      if (!this.#overflowing) {
        // One warning per overflow episode: logging every dropped item would flood the log.
        this.#overflowing = true
        this.hub.logger.warn(
          `Tap "${this.tapName}" is full (${this.capacity} ${this.stream}); dropping the oldest items until it catches up.`,
          { tap: this.tapName, stream: this.stream },
        )
      }
      this.#report({ kind: 'dropped', value: oldest })
    }
    this.#buffer.push(value)
    this.kick()
  }

  kick(): void {
    if (this.#draining || this.buffered === 0 || this.failed) return
    if (isActorLogic(this.target) && !this.ref) return // waits for the gateway to spawn it
    this.#draining = true
    setImmediate(() => void this.#drain())
  }

  async #drain(): Promise<void> {
    try {
      while (this.buffered > 0 && !this.failed) {
        const value = this.#buffer[this.#head] as T
        this.#buffer[this.#head] = undefined as T
        this.#head++
        if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
          this.#buffer.splice(0, this.#head)
          this.#head = 0
        }
        try {
          const result = this.#deliver(value)
          if (result instanceof Promise) await result
          this.delivered++
        } catch (error) {
          this.errors++
          const failure = error instanceof Error ? error : new Error(String(error))
          this.hub.logger.warn(`Tap "${this.tapName}" failed to take an item: ${failure.message}`, {
            tap: this.tapName,
            stream: this.stream,
            error,
          })
          this.#report({ kind: 'delivery-failed', error: failure, value })
        }
      }
    } finally {
      if (this.buffered === 0) {
        this.#buffer.length = 0
        this.#head = 0
        this.#overflowing = false
      }
      this.#draining = false
      this.kick()
    }
  }

  #deliver(value: T): void | Promise<void> {
    const target = this.target
    const type = this.stream === 'events' ? 'statesource.event' : 'statesource.command'
    if (typeof target === 'function') return target(value)
    const ref = isActorLogic(target) ? this.ref : (target as { send?: unknown })
    if (ref && typeof (ref as { send?: unknown }).send === 'function') {
      const status = (ref as { getSnapshot?: () => { status?: string } }).getSnapshot?.()?.status
      if (status !== undefined && status !== 'active') {
        throw new Error(`its actor is ${status} and takes no more items`)
      }
      ;(ref as { send(event: unknown): void }).send({ type, value })
      return
    }
    ;(target as Partial<Observer<T>>).next?.(value)
  }

  #report(report: Omit<TapReport, 'tap' | 'stream'>): void {
    const full: TapReport = { tap: this.tapName, stream: this.stream, ...report }
    this.hub.inspect('@statesource.tap', {
      tap: this.tapName,
      stream: this.stream,
      kind: report.kind,
      ...(report.error ? { error: report.error.message } : {}),
    })
    if (!this.onReport) return
    try {
      this.onReport(full)
    } catch (error) {
      this.hub.logger.warn(
        `The onReport callback of tap "${this.tapName}" threw: ${(error as Error)?.message ?? error}`,
        {
          tap: this.tapName,
          error,
        },
      )
    }
  }
}

/**
 * Fans persisted envelopes and commands out to taps. Each tap has its own bounded buffer and drains
 * asynchronously, so a slow or failing tap never blocks a command or another tap.
 *
 * @example
 * ```ts
 * const hub = new TapHub([{ name: 'log', events: (e) => console.log(e.type) }], consoleLogger)
 * hub.events$.subscribe((e) => console.log(e.persistenceId))
 * ```
 */
export class TapHub {
  readonly #eventChannels: TapChannel<EventEnvelope>[] = []
  readonly #commandChannels: TapChannel<TappedCommand>[] = []
  readonly #includeRejected = new Set<TapChannel<TappedCommand>>()
  readonly #eventStreams = new Set<TapChannel<EventEnvelope>>()
  readonly #commandStreams = new Set<TapChannel<TappedCommand>>()
  readonly #streamBufferSize: number
  #binding: TapBinding | undefined
  #completed = false

  constructor(
    taps: readonly TapConfig[],
    readonly logger: Logger,
    options: TapHubOptions = {},
  ) {
    this.#streamBufferSize = options.streamBufferSize ?? CQRS_DEFAULTS.streamBufferSize
    checkSize(this.#streamBufferSize, 'streamBufferSize')
    const names = new Set<string>()
    for (const tap of taps) {
      if (!tap || typeof tap.name !== 'string' || tap.name.length === 0) {
        throw new NotConfiguredError('taps', 'Every tap needs a non-empty name: withTap({ name, events }).')
      }
      if (names.has(tap.name))
        throw new NotConfiguredError('taps', `Two taps are named "${tap.name}"; tap names must be unique.`)
      names.add(tap.name)
      const size = tap.bufferSize ?? CQRS_DEFAULTS.tapBufferSize
      checkSize(size, `Tap "${tap.name}" bufferSize`)
      const overflow = tap.overflow ?? 'drop-oldest'
      if (overflow !== 'drop-oldest' && overflow !== 'fail') {
        throw new NotConfiguredError(
          'taps',
          `Tap "${tap.name}" overflow must be 'drop-oldest' or 'fail', got ${JSON.stringify(overflow)}.`,
        )
      }
      if (tap.events === undefined && tap.commands === undefined) {
        throw new NotConfiguredError(
          'taps',
          `Tap "${tap.name}" has neither events nor commands; give it at least one target.`,
        )
      }
      for (const [stream, target] of [
        ['events', tap.events],
        ['commands', tap.commands],
      ] as const) {
        if (target === undefined) continue
        if (typeof target !== 'function' && (typeof target !== 'object' || target === null)) {
          throw new NotConfiguredError(
            'taps',
            `Tap "${tap.name}" ${stream} must be a function, an observer, an actor ref or actor logic; got ${typeof target}.`,
          )
        }
      }
      if (tap.events) {
        this.#eventChannels.push(
          new TapChannel(tap.name, 'events', tap.events, size, overflow, this, tap.onReport),
        )
      }
      if (tap.commands) {
        const channel = new TapChannel(tap.name, 'commands', tap.commands, size, overflow, this, tap.onReport)
        this.#commandChannels.push(channel)
        if (tap.includeRejected) this.#includeRejected.add(channel)
      }
    }
  }

  /**
   * Every persisted envelope, as a hot Observable (subscribe before sending commands). Each subscription
   * gets its own bounded, drop-oldest buffer and is fed asynchronously, so a slow subscriber never delays
   * a command.
   */
  get events$(): Observable<EventEnvelope> {
    return this.#stream(this.#eventStreams, 'events')
  }

  /** Every command outcome (persisted, rejected, failed), as a hot Observable with the same buffering as `events$`. */
  get commands$(): Observable<TappedCommand> {
    return this.#stream(this.#commandStreams, 'commands')
  }

  /** @internal Whether anything listens to commands (saves building tapped commands when nothing does). */
  get hasCommandTaps(): boolean {
    return this.#commandChannels.length > 0 || this.#commandStreams.size > 0
  }

  /** @internal Called by the gateway when it starts: spawns actor-logic taps in its system. Returns a stop function. */
  bind(binding: TapBinding): () => void {
    this.#binding = binding
    const spawned = new Map<AnyActorLogic, AnyActorRef>()
    const channels = [...this.#eventChannels, ...this.#commandChannels] as TapChannel<unknown>[]
    for (const channel of channels) {
      if (!isActorLogic(channel.target)) continue
      let ref = spawned.get(channel.target)
      if (!ref) {
        ref = binding.spawn(channel.target, `statesource.tap.${channel.tapName}.${spawned.size + 1}`)
        spawned.set(channel.target, ref)
      }
      channel.ref = ref
      channel.kick()
    }
    return () => {
      if (this.#binding === binding) this.#binding = undefined
      for (const channel of channels)
        if (channel.ref && spawned.get(channel.target as AnyActorLogic) === channel.ref)
          channel.ref = undefined
      for (const ref of spawned.values()) binding.stop(ref)
    }
  }

  /** @internal */
  inspect(type: string, data: Record<string, unknown>): void {
    try {
      this.#binding?.inspect(type, data)
    } catch {
      // Inspection is best effort: an observer that throws must not stop a tap.
    }
  }

  /** @internal Offers persisted envelopes to every event tap; never blocks and never throws. */
  publishEvents(envelopes: readonly EventEnvelope[], _events?: readonly DomainEvent[]): void {
    for (const channel of this.#eventChannels) for (const e of envelopes) channel.offer(e)
    for (const channel of this.#eventStreams) for (const e of envelopes) channel.offer(e)
  }

  /** @internal Offers a command outcome to the command taps that want it; never blocks and never throws. */
  publishCommand(command: TappedCommand): void {
    for (const channel of this.#commandChannels) {
      if (command.outcome === 'persisted' || this.#includeRejected.has(channel)) channel.offer(command)
    }
    for (const channel of this.#commandStreams) channel.offer(command)
  }

  /** Counters of every tap (the two streams of a tap are added up). */
  status(): TapStatus[] {
    const byName = new Map<string, TapStatus>()
    for (const c of [...this.#eventChannels, ...this.#commandChannels] as TapChannel<unknown>[]) {
      const prev = byName.get(c.tapName)
      byName.set(c.tapName, {
        name: c.tapName,
        delivered: (prev?.delivered ?? 0) + c.delivered,
        dropped: (prev?.dropped ?? 0) + c.dropped,
        errors: (prev?.errors ?? 0) + c.errors,
        buffered: (prev?.buffered ?? 0) + c.buffered,
        failed: (prev?.failed ?? false) || c.failed,
      })
    }
    return [...byName.values()]
  }

  /** @internal Waits until every tap and stream buffer is empty (or its tap failed). */
  async flush(): Promise<void> {
    const all = () =>
      [
        ...this.#eventChannels,
        ...this.#commandChannels,
        ...this.#eventStreams,
        ...this.#commandStreams,
      ] as TapChannel<unknown>[]
    while (all().some((c) => !c.failed && c.buffered > 0 && !(isActorLogic(c.target) && !c.ref))) {
      await new Promise((resolve) => setImmediate(resolve))
    }
  }

  /** Completes `events$` and `commands$` subscribers once their buffers are delivered. */
  complete(): void {
    this.#completed = true
    for (const set of [this.#eventStreams, this.#commandStreams] as Set<TapChannel<unknown>>[]) {
      for (const channel of set) channel.offer(COMPLETE)
    }
  }

  #stream<T>(streams: Set<TapChannel<T>>, kind: 'events' | 'commands'): Observable<T> {
    return new Observable<T>((subscriber) => {
      if (this.#completed) {
        subscriber.complete()
        return
      }
      const channel = new TapChannel<T>(
        `${kind}$`,
        kind,
        (value: T) => {
          if (value === (COMPLETE as T)) {
            streams.delete(channel)
            subscriber.complete()
          } else subscriber.next(value)
        },
        this.#streamBufferSize,
        'drop-oldest',
        this,
        undefined,
      )
      streams.add(channel)
      return () => {
        streams.delete(channel)
      }
    })
  }
}

const COMPLETE = Symbol('statesource.tap.complete')

function checkSize(size: number, what: string): void {
  if (!Number.isInteger(size) || size < 1) {
    throw new NotConfiguredError('taps', `${what} must be an integer of at least 1, got ${size}.`)
  }
}
