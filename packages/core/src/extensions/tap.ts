import { type Observable, type Observer, Subject } from 'rxjs'
import type { DomainEvent } from '../codec/event-codec-registry.ts'
import type { Logger } from '../logger.ts'
import type { EventEnvelope, EventMetadata } from '../persistence/envelope.ts'

/** A command as taps see it, after it was accepted or rejected. */
export interface TappedCommand {
  readonly aggregateType: string
  readonly id: string
  readonly persistenceId: string
  readonly command: { readonly type: string }
  readonly metadata: EventMetadata
  readonly outcome: 'persisted' | 'rejected' | 'failed'
  readonly error?: Error
}

/** What a tap delivers to: a function (may be async), an RxJS observer or subject, or an actor ref. */
export type TapTarget<T> =
  | ((value: T) => void | Promise<void>)
  | Partial<Observer<T>>
  | { send(event: { type: string; value: T }): void }

/** What happens when a tap's buffer is full: drop the oldest item, or fail (stop) the tap. */
export type TapOverflow = 'drop-oldest' | 'fail'

/** A tap: delivered asynchronously after the reply, through a bounded buffer. */
export interface TapConfig {
  readonly name: string
  readonly events?: TapTarget<EventEnvelope>
  readonly commands?: TapTarget<TappedCommand>
  /** Buffer capacity in items. Default 10,000. */
  readonly bufferSize?: number
  /** Default `'drop-oldest'`. */
  readonly overflow?: TapOverflow
}

/** Live counters of one tap, for monitoring and tests. */
export interface TapStatus {
  readonly name: string
  readonly delivered: number
  readonly dropped: number
  readonly errors: number
  readonly buffered: number
  readonly failed: boolean
}

class TapChannel<T> {
  readonly #buffer: T[] = []
  #head = 0
  #draining = false
  delivered = 0
  dropped = 0
  errors = 0
  failed = false

  constructor(
    readonly tapName: string,
    readonly kind: 'events' | 'commands',
    readonly target: TapTarget<T>,
    readonly capacity: number,
    readonly overflow: TapOverflow,
    readonly logger: Logger,
  ) {}

  get buffered(): number {
    return this.#buffer.length - this.#head
  }

  offer(value: T): void {
    if (this.failed) return
    if (this.buffered >= this.capacity) {
      if (this.overflow === 'fail') {
        this.failed = true
        this.#buffer.length = 0
        this.#head = 0
        this.logger.error(`Tap "${this.tapName}" overflowed its buffer of ${this.capacity} and was stopped.`, {
          tap: this.tapName,
        })
        return
      }
      this.#head++
      this.dropped++
    }
    this.#buffer.push(value)
    if (!this.#draining) {
      this.#draining = true
      setImmediate(() => void this.#drain())
    }
  }

  async #drain(): Promise<void> {
    try {
      while (this.buffered > 0 && !this.failed) {
        const value = this.#buffer[this.#head++] as T
        if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
          this.#buffer.splice(0, this.#head)
          this.#head = 0
        }
        try {
          const result = deliver(this.target, this.kind, value)
          if (result instanceof Promise) await result
          this.delivered++
        } catch (error) {
          this.errors++
          this.logger.warn(`Tap "${this.tapName}" failed to take an item: ${(error as Error)?.message ?? error}`, {
            tap: this.tapName,
            error,
          })
        }
      }
    } finally {
      if (this.buffered === 0) {
        this.#buffer.length = 0
        this.#head = 0
      }
      this.#draining = false
      if (this.buffered > 0 && !this.failed) {
        this.#draining = true
        setImmediate(() => void this.#drain())
      }
    }
  }
}

function deliver<T>(target: TapTarget<T>, kind: string, value: T): void | Promise<void> {
  if (typeof target === 'function') return target(value)
  if ('send' in target && typeof target.send === 'function') {
    return target.send({ type: kind === 'events' ? 'statesource.event' : 'statesource.command', value })
  }
  const observer = target as Partial<Observer<T>>
  observer.next?.(value)
}

/**
 * Fans persisted envelopes and commands out to taps. Each tap has its own bounded buffer and drains
 * asynchronously, so a slow or failing tap never blocks a command or another tap.
 */
export class TapHub {
  readonly #eventChannels: TapChannel<EventEnvelope>[] = []
  readonly #commandChannels: TapChannel<TappedCommand>[] = []
  readonly #events$ = new Subject<EventEnvelope>()
  readonly #commands$ = new Subject<TappedCommand>()

  constructor(
    taps: readonly TapConfig[],
    readonly logger: Logger,
  ) {
    const names = new Set<string>()
    for (const tap of taps) {
      if (names.has(tap.name)) throw new TypeError(`Two taps are named "${tap.name}"; tap names must be unique.`)
      names.add(tap.name)
      const size = tap.bufferSize ?? 10_000
      if (!Number.isInteger(size) || size < 1) {
        throw new RangeError(`Tap "${tap.name}" bufferSize must be an integer of at least 1, got ${size}.`)
      }
      const overflow = tap.overflow ?? 'drop-oldest'
      if (tap.events) this.#eventChannels.push(new TapChannel(tap.name, 'events', tap.events, size, overflow, logger))
      if (tap.commands) {
        this.#commandChannels.push(new TapChannel(tap.name, 'commands', tap.commands, size, overflow, logger))
      }
    }
  }

  /** Every persisted envelope, as a hot Observable (subscribe before sending commands). */
  get events$(): Observable<EventEnvelope> {
    return this.#events$.asObservable()
  }

  /** Every command outcome, as a hot Observable. */
  get commands$(): Observable<TappedCommand> {
    return this.#commands$.asObservable()
  }

  get hasCommandTaps(): boolean {
    return this.#commandChannels.length > 0 || this.#commands$.observed
  }

  publishEvents(envelopes: readonly EventEnvelope[], _events?: readonly DomainEvent[]): void {
    for (const channel of this.#eventChannels) for (const e of envelopes) channel.offer(e)
    if (this.#events$.observed) {
      for (const e of envelopes) {
        try {
          this.#events$.next(e)
        } catch (error) {
          this.logger.warn(`A subscriber of events$ threw: ${(error as Error)?.message ?? error}`, { error })
        }
      }
    }
  }

  publishCommand(command: TappedCommand): void {
    for (const channel of this.#commandChannels) channel.offer(command)
    if (this.#commands$.observed) {
      try {
        this.#commands$.next(command)
      } catch (error) {
        this.logger.warn(`A subscriber of commands$ threw: ${(error as Error)?.message ?? error}`, { error })
      }
    }
  }

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

  complete(): void {
    this.#events$.complete()
    this.#commands$.complete()
  }
}
