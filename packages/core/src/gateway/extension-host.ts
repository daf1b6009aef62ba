// Hot path: measured by packages/bench/src/cases/statesource-case.ts (pnpm bench). Measure before and after changing this file.
import type { AnyActorRef } from 'xstate'
import type { DomainEvent } from '../codec/event-codec-registry.ts'
import { CQRS_DEFAULTS } from '../defaults.ts'
import type { StatesourceError } from '../errors.ts'
import {
  type ActorInterceptor,
  type FunctionInterceptor,
  type Interceptor,
  type InterceptorContext,
  type InterceptorResult,
  type InterceptPass,
  type InterceptReject,
  toInterceptorResult,
} from '../extensions/interceptor.ts'
import type { Listener } from '../extensions/listener.ts'
import type { TapHub } from '../extensions/tap.ts'
import type { Logger } from '../logger.ts'
import type { EventEnvelope, EventMetadata } from '../persistence/envelope.ts'
import type { GatewayScope } from './gateway-scope.ts'
import type { GatewayCommandEvent } from './messages.ts'

/** Options of {@link ExtensionHost}. */
export interface ExtensionHostOptions {
  readonly interceptors: readonly Interceptor[] | undefined
  readonly listeners: readonly Listener[] | undefined
  readonly taps: TapHub | undefined
  readonly logger: Logger
  readonly scope: GatewayScope
  /** The persistence id of an aggregate, for a command refused before its aggregate was known to exist. */
  readonly persistenceIdOf: (aggregateType: string, id: string) => string
}

interface PendingIntercept {
  readonly actorId: string
  readonly resolve: (result: InterceptorResult) => void
  readonly fail: (error: Error) => void
  readonly timer: ReturnType<typeof setTimeout>
}

/**
 * Runs the gateway's extensions: interceptors before `decide` (functions are called; actor logic runs as a
 * child of the gateway, asked through the mailbox and restarted when it fails), listeners after each
 * commit, and taps fed with committed events and command outcomes (their actors are children too).
 */
export class ExtensionHost {
  /** Every interceptor as a function: an actor interceptor's asks its actor and waits for the answer. */
  readonly interceptors: readonly FunctionInterceptor[]
  readonly #options: ExtensionHostOptions
  readonly #actors = new Map<
    string,
    { readonly interceptor: ActorInterceptor; ref: AnyActorRef | undefined }
  >()
  readonly #pending = new Map<string, PendingIntercept>()
  #requests = 0
  #started = false
  #unbindTaps: (() => void) | undefined

  constructor(options: ExtensionHostOptions) {
    this.#options = options
    this.interceptors = (options.interceptors ?? []).map((interceptor) => {
      if (isFunctionInterceptor(interceptor)) return interceptor
      this.#actors.set(interceptor.name, { interceptor, ref: undefined })
      return {
        name: interceptor.name,
        ...(interceptor.aggregates ? { aggregates: interceptor.aggregates } : {}),
        intercept: (context: InterceptorContext) => this.#ask(interceptor, context),
      }
    })
  }

  /** Spawns the interceptor and tap actors (once, when the gateway runs in an actor). */
  start(): void {
    const scope = this.#options.scope
    if (this.#started || !scope.attached) return
    this.#started = true
    for (const entry of this.#actors.values())
      entry.ref = scope.startChild(entry.interceptor.logic, interceptorActorId(entry.interceptor.name))
    this.#unbindTaps = this.#options.taps?.bind({
      spawn: (logic, id) => scope.startChild(logic, id),
      stop: (ref) => this.#stopActor(ref),
      inspect: (type, data) => scope.emit(type, data),
    })
  }

  /** Stops the extension actors; commands waiting for an interceptor actor are rejected. */
  stop(): void {
    for (const entry of this.#actors.values()) {
      const ref = entry.ref
      entry.ref = undefined
      if (ref) this.#stopActor(ref)
    }
    for (const [requestId, pending] of this.#pending) {
      this.#pending.delete(requestId)
      clearTimeout(pending.timer)
      pending.fail(new Error('the gateway stopped before it answered'))
    }
    this.#unbindTaps?.()
    this.#unbindTaps = undefined
  }

  /** An interceptor actor answered (late answers, after a timeout, are dropped). */
  onInterceptAnswer(answer: InterceptPass | InterceptReject): void {
    const pending = typeof answer.requestId === 'string' ? this.#pending.get(answer.requestId) : undefined
    if (!pending) return
    this.#pending.delete(answer.requestId)
    clearTimeout(pending.timer)
    pending.resolve(toInterceptorResult(answer))
  }

  /**
   * A child actor failed: if it is an interceptor's, the commands waiting for it are rejected and it is
   * started afresh (when `restart`). True when the child was an extension's (a tap's failure is the tap's
   * own business: it reports it itself).
   */
  onChildError(childId: string, error: unknown, restart: boolean): boolean {
    for (const entry of this.#actors.values()) {
      if (entry.ref?.id !== childId) continue
      const name = entry.interceptor.name
      const message = (error as Error)?.message ?? String(error)
      this.#options.logger.error(
        `Interceptor "${name}" failed: ${message}. It is restarted; the commands it held are rejected.`,
        { interceptor: name, error },
      )
      this.#options.scope.emit('@statesource.interceptor-failed', { interceptor: name, error: message })
      for (const [requestId, pending] of this.#pending) {
        if (pending.actorId !== childId) continue
        this.#pending.delete(requestId)
        clearTimeout(pending.timer)
        pending.fail(new Error(`its actor failed: ${message}`))
      }
      const failed = entry.ref
      entry.ref = undefined
      if (failed) this.#stopActor(failed)
      if (restart && this.#options.scope.attached) {
        entry.ref = this.#options.scope.startChild(entry.interceptor.logic, interceptorActorId(name))
      }
      return true
    }
    return childId.startsWith('statesource.tap.')
  }

  /** Calls the listeners for each committed event, in order. A listener's failure is logged, not thrown. */
  runListeners(
    aggregateType: string,
    pid: string,
    events: readonly DomainEvent[],
    envelopes: readonly EventEnvelope[],
    correlationId: string | undefined,
  ): void {
    const listeners = this.#options.listeners
    if (!listeners || listeners.length === 0) return
    for (let i = 0; i < events.length; i++) {
      const envelope = envelopes[i]!
      for (const listener of listeners) {
        if (listener.aggregates && !listener.aggregates.includes(aggregateType)) continue
        const report = (error: unknown) => this.#listenerFailed(listener, pid, envelope, correlationId, error)
        try {
          const returned = listener.onEvent(events[i]!, envelope) as unknown
          // Not awaited (listeners are synchronous), but a rejection must not become an unhandled one.
          if (returned instanceof Promise) returned.catch(report)
        } catch (error) {
          report(error)
        }
      }
    }
  }

  /** Feeds the taps a command's committed events and its outcome. */
  publishCommitted(
    aggregateType: string,
    id: string,
    pid: string,
    command: { readonly type: string },
    metadata: EventMetadata,
    envelopes: readonly EventEnvelope[],
    events: readonly DomainEvent[],
  ): void {
    const taps = this.#options.taps
    if (!taps) return
    taps.publishEvents(envelopes, events)
    if (taps.hasCommandTaps) {
      taps.publishCommand({ aggregateType, id, persistenceId: pid, command, metadata, outcome: 'persisted' })
    }
  }

  /**
   * Feeds the command taps a command's failure. Every failure of a command, wherever it happens (intake,
   * recovery, decide, persist, a drop), reaches here through the gateway's answer to it.
   */
  publishFailure(message: GatewayCommandEvent, error: StatesourceError, metadata: EventMetadata): void {
    const taps = this.#options.taps
    if (!taps?.hasCommandTaps) return
    const id = typeof message.id === 'string' ? message.id : String(message.id)
    taps.publishCommand({
      aggregateType: message.aggregateType,
      id,
      persistenceId: this.#options.persistenceIdOf(message.aggregateType, id),
      command: message.command,
      metadata,
      outcome: error.code === 'COMMAND_REJECTED' ? 'rejected' : 'failed',
      error,
    })
  }

  #ask(interceptor: ActorInterceptor, context: InterceptorContext): Promise<InterceptorResult> {
    const ref = this.#actors.get(interceptor.name)?.ref
    const self = this.#options.scope.self
    if (!ref || !self) {
      return Promise.reject(
        new Error('its actor is not running (actor interceptors need the gateway to be started)'),
      )
    }
    const timeoutMs = interceptor.timeoutMs ?? CQRS_DEFAULTS.interceptorTimeoutMs
    const requestId = `${interceptor.name}#${++this.#requests}`
    return new Promise<InterceptorResult>((resolve, fail) => {
      const timer = setTimeout(() => {
        this.#pending.delete(requestId)
        fail(new Error(`its actor did not answer within ${timeoutMs} ms (interceptor timeoutMs)`))
      }, timeoutMs)
      this.#pending.set(requestId, { actorId: ref.id, resolve, fail, timer })
      ref.send({ type: 'statesource.intercept', requestId, context, replyTo: self })
    })
  }

  #listenerFailed(
    listener: Listener,
    pid: string,
    envelope: EventEnvelope,
    correlationId: string | undefined,
    error: unknown,
  ): void {
    this.#options.logger.warn(
      `Listener "${listener.name}" threw on event ${envelope.seqNr} of "${pid}": ${(error as Error)?.message ?? error}. The command still succeeded: its events are durable.`,
      { listener: listener.name, persistenceId: pid, seqNr: envelope.seqNr, error },
    )
    this.#options.scope.emit('@statesource.listener-failed', {
      listener: listener.name,
      persistenceId: pid,
      seqNr: envelope.seqNr,
      error: (error as Error)?.message ?? String(error),
      correlationId,
    })
  }

  #stopActor(ref: AnyActorRef): void {
    try {
      this.#options.scope.stopChild(ref)
    } catch {
      // Already stopped, or stopped with its parent: nothing left to do.
    }
  }
}

function isFunctionInterceptor(interceptor: Interceptor): interceptor is FunctionInterceptor {
  return 'intercept' in interceptor && typeof interceptor.intercept === 'function'
}

function interceptorActorId(name: string): string {
  return `statesource.interceptor.${name}`
}
