// Hot path: measured by packages/bench/src/cases/statesource-case.ts (pnpm bench). Measure before and after changing this file.
import type { AnyMachineSnapshot, AnyStateMachine, EventFromLogic, SnapshotFrom } from 'xstate'
import { CommandRejectedError, StatesourceError } from '../errors.ts'
import { MachineRuntime } from '../internal/machine-runtime.ts'
import type { EventMetadata } from '../persistence/envelope.ts'
import { findNonDeterminism } from './machine-rules.ts'

const REJECTION = Symbol.for('statesource.rejection')

/** A business rejection returned by `decide`: the command is refused and nothing is written. */
export interface Rejection {
  readonly [REJECTION]: true
  readonly reason: string
  readonly details?: unknown
}

/**
 * Rejects a command from its `decide` function.
 *
 * @example
 * ```ts
 * withdraw: (cmd: { amount: number }, state) =>
 *   state.context.balance < cmd.amount ? reject('insufficient funds') : { type: 'withdrawn', amount: cmd.amount }
 * ```
 */
export function reject(reason: string, details?: unknown): Rejection {
  return details === undefined ? { [REJECTION]: true, reason } : { [REJECTION]: true, reason, details }
}

/** True when `value` is a {@link Rejection}. */
export function isRejection(value: unknown): value is Rejection {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[REJECTION] === true
}

/** What `decide` knows besides the command and the state. */
export interface DecideContext {
  /** The aggregate id (without the type prefix). */
  readonly id: string
  readonly persistenceId: string
  /** The number of events the aggregate has: the sequence number of its last event. */
  readonly version: number
  /** The command's metadata (after interceptors enriched it). */
  readonly metadata: EventMetadata
}

/**
 * An event as `decide` returns it. Its `type` is checked against the chart at run time (every decided event
 * must be accepted in the state it meets); TypeScript widens literal `type`s of un-annotated returns, so
 * the compile-time type is loose on purpose.
 */
export interface EventLike {
  readonly type: string
  readonly [key: string]: unknown
}

/** What a `decide` function may return: one event, several, none, or a rejection. */
export type DecideResult<TEvent> = TEvent | readonly TEvent[] | Rejection | undefined | void

/** One `decide` per command type. */
export type CommandHandler<TMachine extends AnyStateMachine> = (
  command: any,
  state: SnapshotFrom<TMachine>,
  context: DecideContext,
) => DecideResult<EventLike>

/** Invariant: return `true` (or nothing) when the state is valid, `false` or a reason when it is not. */
export type Invariant<TMachine extends AnyStateMachine> = (
  state: SnapshotFrom<TMachine>,
) => boolean | string | void

/** Input of {@link defineAggregate}. */
export interface AggregateConfig<
  TMachine extends AnyStateMachine,
  TCommands extends Record<string, unknown>,
> {
  /** The stream category: persistence ids are `type|id`. Letters, digits, `_`, `-`, `.` and `:` only. */
  type: string
  /** The statechart whose events are the domain events. Must be deterministic (see the aggregates guide). */
  machine: TMachine
  /** `decide` functions keyed by command type. The command's payload type is the first parameter's. */
  commands: {
    [K in keyof TCommands]: (
      command: TCommands[K],
      state: SnapshotFrom<TMachine>,
      context: DecideContext,
    ) => DecideResult<EventLike>
  }
  /** The machine version stamped on snapshots; a snapshot with another version is discarded. Default `1`. */
  version?: number | string
  /** Tags stored with each event (for `eventsByTag` readers). */
  tags?: (event: EventFromLogic<TMachine>) => readonly string[]
  /** The current schema version of each event type (default 1); older stored versions go through upcasters. */
  eventVersions?: { readonly [K in EventFromLogic<TMachine>['type']]?: number }
  /** Named invariants checked on the trial state before anything is persisted. */
  invariants?: Record<string, Invariant<TMachine>>
}

type PayloadOf<P> = unknown extends P ? {} : Omit<P, 'type'>

/** The command union an aggregate accepts: `{ type: K } & payload` for each command `K`. */
export type CommandsOf<TCommands> = {
  [K in keyof TCommands & string]: { readonly type: K } & PayloadOf<TCommands[K]>
}[keyof TCommands & string]

/** An inert aggregate definition made by {@link defineAggregate}. */
export interface Aggregate<
  TMachine extends AnyStateMachine = AnyStateMachine,
  TCommands extends Record<string, unknown> = Record<string, unknown>,
> {
  readonly type: string
  readonly machine: TMachine
  /** The `decide` functions, keyed by command type. */
  readonly commands: Readonly<Record<keyof TCommands & string, CommandHandler<TMachine>>>
  /** The machine version as a string, stamped on snapshots. */
  readonly version: string
  /** Every event type the machine handles. */
  readonly eventTypes: readonly string[]
  readonly invariants: Readonly<Record<string, Invariant<TMachine>>>
  /** `type|id`. */
  persistenceId(id: string): string
  /** The schema version new events of `eventType` are written with. */
  eventVersion(eventType: string): number
  tagsFor(event: { type: string }): readonly string[]
  /** @internal effect-free stepping through the machine. */
  readonly runtime: MachineRuntime
  /** Type-only: the command union. */
  readonly '~commands'?: CommandsOf<TCommands>
  /** Type-only: the event union. */
  readonly '~events'?: EventFromLogic<TMachine>
}

/** Any aggregate, erased. */
export type AnyAggregate = Aggregate<any, any>
/** The command union of an aggregate. */
export type CommandFrom<A extends AnyAggregate> = NonNullable<A['~commands']>
/** The domain event union of an aggregate. */
export type EventFrom<A extends AnyAggregate> = NonNullable<A['~events']>
/** The machine snapshot type of an aggregate. */
export type StateFrom<A extends AnyAggregate> = SnapshotFrom<A['machine']>

/** The separator between the aggregate type and the id in a persistence id. */
export const PERSISTENCE_ID_SEPARATOR = '|'
const TYPE_PATTERN = /^[A-Za-z0-9_.:-]{1,100}$/

/**
 * Defines an event-sourced aggregate: a statechart over domain events plus a `decide` per command.
 *
 * @example
 * ```ts
 * const account = defineAggregate({
 *   type: 'account',
 *   machine: accountMachine,
 *   commands: {
 *     open: (cmd: { owner: string }) => ({ type: 'opened', owner: cmd.owner }),
 *     deposit: (cmd: { amount: number }) => ({ type: 'deposited', amount: cmd.amount }),
 *   },
 * })
 * ```
 *
 * @remarks
 * At definition time the machine is checked for non-determinism (`after`, `invoke`, `spawnChild`, delayed
 * raises); such a machine is refused with an `INVALID_AGGREGATE` error.
 */
export function defineAggregate<TMachine extends AnyStateMachine, TCommands extends Record<string, unknown>>(
  config: AggregateConfig<TMachine, TCommands>,
): Aggregate<TMachine, TCommands> {
  const { type, machine, commands } = config
  if (typeof type !== 'string' || !TYPE_PATTERN.test(type)) {
    throw new StatesourceError(
      'INVALID_AGGREGATE',
      `Aggregate type ${JSON.stringify(type)} is not valid. Use 1-100 letters, digits, "_", "-", "." or ":" (it prefixes every persistence id).`,
    )
  }
  if (!machine || typeof machine !== 'object' || !('root' in machine)) {
    throw new StatesourceError(
      'INVALID_AGGREGATE',
      `Aggregate "${type}" needs an XState machine (createMachine or setup(...).createMachine).`,
    )
  }
  if (!commands || typeof commands !== 'object' || Object.keys(commands).length === 0) {
    throw new StatesourceError('INVALID_AGGREGATE', `Aggregate "${type}" needs at least one command handler.`)
  }
  for (const [name, handler] of Object.entries(commands)) {
    if (typeof handler !== 'function') {
      throw new StatesourceError(
        'INVALID_AGGREGATE',
        `Command handler "${name}" of aggregate "${type}" is not a function.`,
      )
    }
  }
  const problems = findNonDeterminism(machine)
  if (problems.length > 0) {
    throw new StatesourceError(
      'INVALID_AGGREGATE',
      `The machine of aggregate "${type}" is not deterministic: ${problems.join('; ')}. Aggregate machines are replayed as a pure fold; model timers as scheduled commands and side effects as listeners or taps.`,
    )
  }
  const versions: Record<string, number | undefined> = { ...(config.eventVersions ?? {}) }
  for (const [eventType, v] of Object.entries(versions)) {
    if (!Number.isInteger(v) || (v as number) < 1) {
      throw new StatesourceError(
        'INVALID_AGGREGATE',
        `eventVersions.${eventType} of aggregate "${type}" must be an integer of at least 1, got ${String(v)}.`,
      )
    }
  }
  const tags = config.tags
  const eventTypes = Object.freeze(
    [...((machine.root as unknown as { events: string[] }).events ?? [])].filter(
      (e) => !e.startsWith('xstate.'),
    ),
  )
  return Object.freeze({
    type,
    machine,
    commands: commands as Aggregate<TMachine, TCommands>['commands'],
    version: String(config.version ?? 1),
    eventTypes,
    invariants: Object.freeze({ ...(config.invariants ?? {}) }),
    runtime: new MachineRuntime(machine),
    persistenceId: (id: string) => `${type}${PERSISTENCE_ID_SEPARATOR}${id}`,
    eventVersion: (eventType: string) => versions[eventType] ?? 1,
    tagsFor: (event: { type: string }) => (tags ? tags(event as EventFromLogic<TMachine>) : []),
  })
}

/** @internal Runs `decide`, normalising its result to a list of events or throwing the rejection. */
export function runDecide(
  aggregate: AnyAggregate,
  command: { type: string },
  state: AnyMachineSnapshot,
  context: DecideContext,
): { type: string }[] {
  const handler = (aggregate.commands as Record<string, CommandHandler<AnyStateMachine>>)[command.type]
  if (!handler) {
    throw new StatesourceError(
      'UNKNOWN_COMMAND',
      `Aggregate "${aggregate.type}" has no command "${command.type}". Known commands: ${Object.keys(aggregate.commands).join(', ')}.`,
    )
  }
  let result: unknown
  try {
    result = handler(command, state as never, context)
  } catch (error) {
    if (error instanceof CommandRejectedError) throw error
    throw new CommandRejectedError(
      context.persistenceId,
      command.type,
      `decide threw: ${(error as Error)?.message ?? String(error)}`,
      'decide',
      undefined,
      { cause: error },
    )
  }
  if (isRejection(result)) {
    throw new CommandRejectedError(
      context.persistenceId,
      command.type,
      result.reason,
      'decide',
      result.details,
    )
  }
  if (result === undefined || result === null) return []
  const events = (Array.isArray(result) ? result : [result]) as unknown[]
  for (const event of events) {
    if (
      typeof event !== 'object' ||
      event === null ||
      typeof (event as { type?: unknown }).type !== 'string'
    ) {
      throw new StatesourceError(
        'INVALID_INPUT',
        `decide for "${command.type}" of aggregate "${aggregate.type}" returned ${JSON.stringify(event)}, which is not an event object with a string "type".`,
      )
    }
  }
  return events as { type: string }[]
}

/** @internal The effect-free machine runtime of an aggregate, for sibling packages (`@statesource/core/internal`). */
export function runtimeOf(aggregate: AnyAggregate): MachineRuntime {
  return aggregate.runtime
}
