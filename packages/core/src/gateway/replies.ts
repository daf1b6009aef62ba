// Hot path: measured by packages/bench/src/cases/statesource-case.ts (pnpm bench). Measure before and after changing this file.
import type { AnyMachineSnapshot } from 'xstate'
import { StatesourceError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { EventMetadata } from '../persistence/envelope.ts'
import type { ExtensionHost } from './extension-host.ts'
import type { GatewayCommandEvent, GatewayStateRequest, QueuedMessage, SendResult } from './messages.ts'

/**
 * Answers commands and state requests, exactly once each, and counts the messages the gateway holds
 * (admitted and not answered yet: what the `maxTotal` queue bound counts). A message refused at intake was
 * never held. Every failure of a command passes here, so this is where command taps learn of it.
 */
export class Replies {
  /** Messages admitted and not answered yet, waiting or being processed. */
  held = 0
  readonly #logger: Logger
  readonly #extensions: ExtensionHost

  constructor(logger: Logger, extensions: ExtensionHost) {
    this.#logger = logger
    this.#extensions = extensions
  }

  /** Answers a held message with an error. */
  fail(message: QueuedMessage, error: StatesourceError, metadata?: EventMetadata): void {
    this.held--
    this.#fail(message, error, metadata)
  }

  /** Answers a held command. `metadata` is the command's as built so far, for the taps of a failure. */
  command(
    message: GatewayCommandEvent,
    result: SendResult | StatesourceError,
    metadata?: EventMetadata,
  ): void {
    this.held--
    this.#command(message, result, metadata)
  }

  /** Answers a held state request. */
  state(request: GatewayStateRequest, state: AnyMachineSnapshot): void {
    this.held--
    this.#state(request, state)
  }

  /** Answers a message refused at intake (never held). */
  refuse(message: QueuedMessage, error: StatesourceError): void {
    this.#fail(message, error, undefined)
  }

  #fail(message: QueuedMessage, error: StatesourceError, metadata: EventMetadata | undefined): void {
    if (message.type === 'statesource.command') this.#command(message, error, metadata)
    else this.#state(message, error)
  }

  #command(
    message: GatewayCommandEvent,
    result: SendResult | StatesourceError,
    metadata: EventMetadata | undefined,
  ): void {
    if (result instanceof Error) {
      this.#extensions.publishFailure(message, result, metadata ?? message.options?.metadata ?? {})
    }
    try {
      if (message.reply) message.reply(result)
      else if (message.replyTo) {
        message.replyTo.send(
          result instanceof Error
            ? { type: 'statesource.failure', error: result }
            : { type: 'statesource.reply', result },
        )
      }
    } catch (error) {
      this.#replyFailed(error)
    }
  }

  #state(request: GatewayStateRequest, result: AnyMachineSnapshot | StatesourceError): void {
    try {
      // A sender that is not TypeScript may leave it out.
      if (request.reply) request.reply(result)
    } catch (error) {
      this.#replyFailed(error)
    }
  }

  #replyFailed(error: unknown): void {
    this.#logger.warn(`Replying to a command failed: ${(error as Error)?.message ?? error}`, { error })
  }
}

/** What a command or state request gets while the gateway stops or after it stopped. */
export function gatewayStopped(): StatesourceError {
  return new StatesourceError(
    'GATEWAY_STOPPED',
    'The gateway is stopping or stopped and accepts no commands. Materialize it again.',
  )
}
