import type { AnyActorRef } from 'xstate'
import type { AnyAggregate, CommandFrom } from '../aggregate/define-aggregate.ts'
import { StatesourceError, TimeoutError } from '../errors.ts'
import type { GatewayCommandEvent, SendOptions, SendResult } from '../gateway/gateway-logic.ts'

/** Options of {@link createRepository}. */
export interface RepositoryConfig {
  /** Default timeout of `send`. Default 5,000 ms. */
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
}

const NO_OPTIONS: SendOptions = Object.freeze({})

/** Creates a repository over a running gateway actor (from `materialize()` or from your own system). */
export function createRepository<A extends AnyAggregate>(
  gateway: AnyActorRef,
  aggregate: A,
  config: RepositoryConfig = {},
): Repository<A> {
  const defaultTimeout = config.timeoutMs ?? 5_000
  return {
    aggregate,
    send(id, command, options = NO_OPTIONS) {
      const timeoutMs = options.timeoutMs ?? defaultTimeout
      return new Promise<SendResult>((resolve, reject) => {
        let settled = false
        let timer: ReturnType<typeof setTimeout> | undefined
        const signal = options.signal
        const settle = (result: SendResult | Error) => {
          if (settled) return
          settled = true
          if (timer) clearTimeout(timer)
          if (signal) signal.removeEventListener('abort', onAbort)
          if (result instanceof Error) reject(result)
          else resolve(result)
        }
        // Only commands with a signal pay for the listener (this is the hot path).
        const onAbort = signal
          ? () =>
              settle(
                new StatesourceError(
                  'ABORTED',
                  `Command "${(command as { type?: string })?.type}" for "${aggregate.persistenceId(id)}" was aborted. If it had already started it may still complete: retry with the same commandId to find out.`,
                  { cause: signal.reason },
                ),
              )
          : () => {}
        if (signal?.aborted) return onAbort()
        signal?.addEventListener('abort', onAbort, { once: true })
        if (Number.isFinite(timeoutMs) && timeoutMs > 0) {
          timer = setTimeout(
            () =>
              settle(
                new TimeoutError(
                  `Command "${(command as { type?: string })?.type}" for "${aggregate.persistenceId(id)}"`,
                  timeoutMs,
                ),
              ),
            timeoutMs,
          )
        }
        const message: GatewayCommandEvent = {
          type: 'statesource.command',
          aggregateType: aggregate.type,
          id,
          command: command as { type: string },
          options,
          reply: settle,
        }
        const snapshot = gateway.getSnapshot() as { status?: string } | undefined
        if (snapshot?.status !== 'active') {
          return settle(
            new StatesourceError(
              'GATEWAY_STOPPED',
              'The gateway is not running and accepts no commands. Materialize it again.',
            ),
          )
        }
        gateway.send(message)
      })
    },
  }
}
