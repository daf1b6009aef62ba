// Hot path: measured by packages/bench/src/cases/statesource-case.ts (pnpm bench). Measure before and after changing this file.
import type { AnyActorRef, AnyMachineSnapshot } from 'xstate'
import type { DomainEvent } from '../codec/event-codec-registry.ts'
import { isStatesourceError, StatesourceError } from '../errors.ts'
import type { InterceptPass, InterceptReject } from '../extensions/interceptor.ts'
import { checkText } from '../persistence/check-text.ts'
import type { EventEnvelope, EventMetadata } from '../persistence/envelope.ts'

/** Per-call options of a command. */
export interface SendOptions {
  /** Reject with a conflict unless the aggregate is at this version (number of events). */
  readonly expectedVersion?: number
  /** Idempotency key: a retry with the same id returns the first result; a different payload is refused. */
  readonly commandId?: string
  /** Stored with every event of the command (correlation, causation, user, ...). */
  readonly metadata?: EventMetadata
  /**
   * Give up waiting after this long. A command still queued then is dropped and writes nothing; one that had
   * started may still complete: retry with the same commandId to learn its outcome.
   */
  readonly timeoutMs?: number
  /** Abort: a command that has not started yet is dropped and writes nothing. */
  readonly signal?: AbortSignal
}

/** The reply to a command: its persisted envelopes, the aggregate's new version and its global ordering. */
export interface SendResult {
  readonly persistenceId: string
  readonly events: readonly EventEnvelope[]
  /** The aggregate's version after the command: the sequence number of its last event. */
  readonly version: number
  /** The global ordering of the command's last event (0 when it produced none): wait for it on a projection. */
  readonly ordering: number
  /** True when this is the stored result of an earlier command with the same commandId. */
  readonly duplicate: boolean
}

/** The message the gateway receives for each command. Use a repository rather than sending it by hand. */
export interface GatewayCommandEvent {
  readonly type: 'statesource.command'
  readonly aggregateType: string
  readonly id: string
  readonly command: { readonly type: string }
  readonly options?: SendOptions
  /** Called exactly once with the result or a typed error. */
  readonly reply?: (result: SendResult | StatesourceError) => void
  /** Or: an actor that receives `{ type: 'statesource.reply', result }` / `{ type: 'statesource.failure', error }`. */
  readonly replyTo?: AnyActorRef
  /**
   * Asked just before the command starts: `true` (its caller timed out) drops it, and it writes nothing.
   * The repository sets it; a command without it runs whenever its turn comes.
   */
  readonly expired?: () => boolean
}

/**
 * Asks the gateway for an aggregate's current state, recovering it if it is not live. It queues behind the
 * aggregate's earlier commands, so the state includes their events. Use `repository.state(id)`.
 */
export interface GatewayStateRequest {
  readonly type: 'statesource.state'
  readonly aggregateType: string
  readonly id: string
  /** Called exactly once with the machine snapshot or a typed error. */
  readonly reply: (result: AnyMachineSnapshot | StatesourceError) => void
}

/** What waits in an aggregate's queue: commands, and state requests in their order. */
export type QueuedMessage = GatewayCommandEvent | GatewayStateRequest

/** A command whose events were handed to the journal; `done` once the gateway has handled the outcome. */
export interface CommandWrite {
  readonly message: GatewayCommandEvent
  readonly metadata: EventMetadata
  done: boolean
}

// The messages below are posted by the gateway to itself, so that what async work learns (a recovery, an
// append) is applied inside the actor's transition, in the order the mailbox delivers it. `generation`
// tells a reply for an entity that was dropped and created again meanwhile from one for the current entity.

/** An entity was recovered from its snapshot and journal. */
export interface RecoveredMessage {
  readonly type: 'statesource.recovered'
  readonly pid: string
  readonly generation: number
  readonly state: AnyMachineSnapshot
  readonly seqNr: number
  /** Events folded from the journal. */
  readonly replayed: number
  /** The sequence number of the snapshot recovery started from, if one was used. */
  readonly snapshotSeqNr: number | undefined
  readonly startedAt: number
}

/** Recovering an entity failed: its waiting commands get the error. */
export interface RecoveryFailedMessage {
  readonly type: 'statesource.recovery-failed'
  readonly pid: string
  readonly generation: number
  readonly error: StatesourceError
}

/** A command's events were committed. */
export interface PersistedMessage {
  readonly type: 'statesource.persisted'
  readonly pid: string
  readonly generation: number
  readonly write: CommandWrite
  readonly envelopes: readonly EventEnvelope[]
  readonly events: readonly DomainEvent[]
  /** The state after the events, when validation computed it (invariants, or no live actor). */
  readonly trial: AnyMachineSnapshot | undefined
}

/** Appending a command's events failed, or its outcome is unknown. */
export interface PersistFailedMessage {
  readonly type: 'statesource.persist-failed'
  readonly pid: string
  readonly generation: number
  readonly write: CommandWrite
  readonly error: unknown
}

/** Passivate an entity (if it is still the same one and idle). */
export interface PassivateMessage {
  readonly type: 'statesource.passivate'
  readonly pid: string
  readonly generation: number
  readonly reason: 'idle' | 'lru'
}

/** The passivation timer's tick: passivate the entities idle for longer than the idle timeout. */
export interface SweepMessage {
  readonly type: 'statesource.sweep'
}

/** What the gateway posts to itself. */
export type InternalMessage =
  | RecoveredMessage
  | RecoveryFailedMessage
  | PersistedMessage
  | PersistFailedMessage
  | PassivateMessage
  | SweepMessage

/** XState tells a parent that a child actor failed: an aggregate's live actor, an interceptor or a tap. */
export interface ChildErrorEvent {
  readonly type: `xstate.error.actor.${string}`
  readonly error?: unknown
}

/** XState tells a parent that a child actor reached a final state (nothing for the gateway to do). */
export interface ChildDoneEvent {
  readonly type: `xstate.done.actor.${string}`
}

/** Every event the gateway logic handles. */
export type GatewayEvent =
  | GatewayCommandEvent
  | GatewayStateRequest
  | InternalMessage
  | InterceptPass
  | InterceptReject
  | ChildErrorEvent
  | ChildDoneEvent
  | { readonly type: 'xstate.stop' }

const CHILD_ERROR = 'xstate.error.actor.'
const CHILD_DONE = 'xstate.done.actor.'

// A record rather than a list, so that a message type added to the union and not here fails to compile.
const HANDLED: Record<Exclude<GatewayEvent['type'], ChildEventType>, true> = {
  'statesource.command': true,
  'statesource.state': true,
  'statesource.recovered': true,
  'statesource.recovery-failed': true,
  'statesource.persisted': true,
  'statesource.persist-failed': true,
  'statesource.passivate': true,
  'statesource.sweep': true,
  'statesource.intercept.pass': true,
  'statesource.intercept.reject': true,
  'xstate.stop': true,
}
const EVENT_TYPES: ReadonlySet<string> = new Set(Object.keys(HANDLED))

type ChildEventType = ChildErrorEvent['type'] | ChildDoneEvent['type']

/**
 * Whether a message that reached the gateway is one it handles, told by its `type` alone. The fields of
 * commands and state requests are checked at intake ({@link checkMessage}), where a malformed one is
 * answered with a typed error; the internal messages are posted only by the gateway itself.
 */
export function isGatewayEvent(message: unknown): message is GatewayEvent {
  if (typeof message !== 'object' || message === null || !('type' in message)) return false
  const type = message.type
  if (typeof type !== 'string') return false
  return EVENT_TYPES.has(type) || type.startsWith(CHILD_ERROR) || type.startsWith(CHILD_DONE)
}

/** Whether an event is XState's report of a failed child. */
export function isChildError(event: ChildErrorEvent | ChildDoneEvent): event is ChildErrorEvent {
  return event.type.startsWith(CHILD_ERROR)
}

/** The id of the child actor an error event is about. */
export function failedChildId(event: ChildErrorEvent): string {
  return event.type.slice(CHILD_ERROR.length)
}

/**
 * What is wrong with a command or state request for a configured aggregate as it arrived, or undefined.
 * Everything checked here came from outside: its types promise more than a sender that is not TypeScript keeps.
 */
export function checkMessage(message: QueuedMessage): StatesourceError | undefined {
  if (typeof message.id !== 'string' || message.id.length === 0) {
    return new StatesourceError(
      'INVALID_INPUT',
      `The aggregate id must be a non-empty string, got ${JSON.stringify(message.id)}.`,
    )
  }
  try {
    checkText(message.id, 'aggregate id')
  } catch (error) {
    return toInputError(error)
  }
  if (message.type === 'statesource.state') return undefined
  const command: unknown = message.command
  if (
    typeof command !== 'object' ||
    command === null ||
    !('type' in command) ||
    typeof command.type !== 'string'
  ) {
    return new StatesourceError(
      'INVALID_INPUT',
      `A command must be an object with a string "type", got ${safeDescribe(command)}.`,
    )
  }
  const options = message.options
  if (
    options?.expectedVersion !== undefined &&
    !(Number.isInteger(options.expectedVersion) && options.expectedVersion >= 0)
  ) {
    return new StatesourceError(
      'INVALID_INPUT',
      `expectedVersion must be a non-negative integer, got ${options.expectedVersion}.`,
    )
  }
  if (
    options?.commandId !== undefined &&
    (typeof options.commandId !== 'string' || options.commandId.length === 0)
  ) {
    return new StatesourceError(
      'INVALID_INPUT',
      `commandId must be a non-empty string, got ${JSON.stringify(options.commandId)}.`,
    )
  }
  return undefined
}

/** What an input check threw, as the typed error the caller gets. */
export function toInputError(error: unknown): StatesourceError {
  return isStatesourceError(error)
    ? error
    : new StatesourceError('INVALID_INPUT', String(error), { cause: error })
}

function safeDescribe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
