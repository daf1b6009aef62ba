// Hot path: measured by packages/bench/src/cases/statesource-case.ts (pnpm bench). Measure before and after changing this file.
import type { AnyActorRef } from 'xstate'
import type { AnyAggregate, CommandFrom, StateFrom } from '../aggregate/define-aggregate.ts'
import { CQRS_DEFAULTS } from '../defaults.ts'
import { StatesourceError, TimeoutError } from '../errors.ts'
import type { GatewaySnapshot } from '../gateway/gateway-logic.ts'
import type {
  GatewayCommandEvent,
  GatewayStateRequest,
  SendOptions,
  SendResult,
} from '../gateway/messages.ts'

/** Options of {@link createRepository}. */
export interface RepositoryConfig {
  /** Default timeout of `send`. Default 5,000 ms ({@link CQRS_DEFAULTS}). */
  readonly timeoutMs?: number
}

/**
 * Sends commands to one aggregate type through a gateway actor.
 *
 * @example
 * ```ts
 * const accounts = handles.repository(account)
 * const { version, ordering } = await accounts.send('acc-1', { type: 'deposit', amount: 10 })
 * ```
 */
export interface Repository<A extends AnyAggregate> {
  readonly aggregate: A
  /**
   * Sends a command and resolves once its events are durable, with the persisted envelopes, the new version
   * and the global ordering (for read-your-writes on projections). Rejects with a typed
   * {@link StatesourceError}: `COMMAND_REJECTED`, `CONCURRENCY_CONFLICT`, `TIMEOUT`, ...
   */
  send(id: string, command: CommandFrom<A>, options?: SendOptions): Promise<SendResult>
  /**
   * The aggregate's current state (its machine snapshot: `value`, `context`), recovering it from the
   * snapshot store and journal if it is not live. The request waits behind the commands already sent to
   * this id, so it sees their events; it writes nothing. An aggregate with no events gives the machine's
   * initial state.
   *
   * @example
   * ```ts
   * await accounts.send('acc-1', { type: 'deposit', amount: 10 })
   * const state = await accounts.state('acc-1')
   * console.log(state.value, state.context.balance)
   * ```
   *
   * @remarks Rejects with `RECOVERY_FAILED` when the aggregate cannot be recovered, `TIMEOUT` after
   * `options.timeoutMs` (default: the repository's timeout), `GATEWAY_STOPPED` when the gateway is not running.
   */
  state(id: string, options?: StateOptions): Promise<StateFrom<A>>
  /** Whether the aggregate is in memory now (live or being recovered): it answers without a recovery. */
  isLive(id: string): boolean
}

/** Options of {@link Repository.state}. */
export interface StateOptions {
  /** Give up waiting after this long. Default: the repository's timeout. */
  readonly timeoutMs?: number
}

const NO_OPTIONS: SendOptions = Object.freeze({})

/**
 * One command on its way: settles its promise once, with the gateway's reply, on timeout or on abort.
 * Methods rather than closures: this runs for every command.
 */
class PendingSend {
  #settled = false
  #timedOut = false
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #onAbort: (() => void) | undefined

  constructor(
    private readonly resolve: (result: SendResult) => void,
    private readonly reject: (error: Error) => void,
    private readonly aggregate: AnyAggregate,
    private readonly id: string,
    private readonly command: { type: string },
    private readonly signal: AbortSignal | undefined,
  ) {
    if (signal) {
      this.#onAbort = this.abort.bind(this)
      signal.addEventListener('abort', this.#onAbort, { once: true })
    }
  }

  settle(result: SendResult | Error): void {
    if (this.#settled) return
    this.#settled = true
    if (this.#timer) clearTimeout(this.#timer)
    if (this.#onAbort) this.signal?.removeEventListener('abort', this.#onAbort)
    if (result instanceof Error) this.reject(result)
    else this.resolve(result)
  }

  armTimeout(ms: number): void {
    this.#timer = setTimeout(timeOut, ms, this, ms)
  }

  abort(): void {
    this.settle(
      new StatesourceError(
        'ABORTED',
        `Command "${this.command?.type}" for "${this.aggregate.persistenceId(this.id)}" was aborted. If it had already started it may still complete: retry with the same commandId to find out.`,
        { cause: this.signal?.reason },
      ),
    )
  }

  /** Whether the caller gave up waiting: the gateway then drops the command if it has not started. */
  expired(): boolean {
    return this.#timedOut
  }

  timedOut(ms: number): void {
    this.#timedOut = true
    this.settle(
      new TimeoutError(`Command "${this.command?.type}" for "${this.aggregate.persistenceId(this.id)}"`, ms),
    )
  }
}

function timeOut(pending: PendingSend, ms: number): void {
  pending.timedOut(ms)
}

/** Creates a repository over a running gateway actor (from `materialize()` or from your own system). */
export function createRepository<A extends AnyAggregate>(
  gateway: AnyActorRef,
  aggregate: A,
  config: RepositoryConfig = {},
): Repository<A> {
  const defaultTimeout = config.timeoutMs ?? CQRS_DEFAULTS.repositoryTimeoutMs
  return {
    aggregate,
    send(id, command, options = NO_OPTIONS) {
      const timeoutMs = options.timeoutMs ?? defaultTimeout
      return new Promise<SendResult>((resolve, reject) => {
        const pending = new PendingSend(
          resolve,
          reject,
          aggregate,
          id,
          command as { type: string },
          options.signal,
        )
        if (options.signal?.aborted) return pending.abort()
        if (Number.isFinite(timeoutMs) && timeoutMs > 0) pending.armTimeout(timeoutMs)
        const snapshot = gateway.getSnapshot() as { status?: string } | undefined
        if (snapshot?.status !== 'active') {
          return pending.settle(
            new StatesourceError(
              'GATEWAY_STOPPED',
              'The gateway is not running and accepts no commands. Materialize it again.',
            ),
          )
        }
        const message: GatewayCommandEvent = {
          type: 'statesource.command',
          aggregateType: aggregate.type,
          id,
          command: command as { type: string },
          options,
          reply: pending.settle.bind(pending),
          expired: pending.expired.bind(pending),
        }
        gateway.send(message)
      })
    },
    state(id, options = {}) {
      const timeoutMs = options.timeoutMs ?? defaultTimeout
      const pid = aggregate.persistenceId(id)
      return new Promise<StateFrom<A>>((resolve, reject) => {
        let timer: ReturnType<typeof setTimeout> | undefined
        const settle = (result: unknown) => {
          if (timer) clearTimeout(timer)
          if (result instanceof Error) reject(result)
          else resolve(result as StateFrom<A>)
        }
        const snapshot = gateway.getSnapshot() as { status?: string } | undefined
        if (snapshot?.status !== 'active') {
          return settle(
            new StatesourceError(
              'GATEWAY_STOPPED',
              'The gateway is not running and answers no state requests. Materialize it again.',
            ),
          )
        }
        if (Number.isFinite(timeoutMs) && timeoutMs > 0) {
          timer = setTimeout(
            () => reject(new TimeoutError(`Reading the state of "${pid}"`, timeoutMs)),
            timeoutMs,
          )
        }
        const request: GatewayStateRequest = {
          type: 'statesource.state',
          aggregateType: aggregate.type,
          id,
          reply: settle,
        }
        gateway.send(request)
      })
    },
    isLive(id) {
      const snapshot = gateway.getSnapshot() as GatewaySnapshot | undefined
      return snapshot?.context?.runtime?.isLive(aggregate.persistenceId(id)) ?? false
    },
  }
}
