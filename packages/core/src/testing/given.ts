import type { AnyMachineSnapshot } from 'xstate'
import {
  type AnyAggregate,
  type CommandFrom,
  type EventFrom,
  runDecide,
  type StateFrom,
} from '../aggregate/define-aggregate.ts'
import { validateEvents } from '../aggregate/validate-events.ts'
import { CommandRejectedError, StatesourceError } from '../errors.ts'

/** The outcome of a `when`: the decided events, or the error, plus the resulting state. */
export interface AggregateSpec<A extends AnyAggregate> {
  /** The events `decide` produced (after the chart accepted them). Throws if the command was rejected. */
  readonly events: EventFrom<A>[]
  /** The state after the given events and the decided ones. */
  readonly state: StateFrom<A>
  /** The rejection, if the command was rejected. */
  readonly error: StatesourceError | undefined
  /** Asserts the command was rejected (optionally with a reason containing `reason`) and returns the error. */
  rejected(reason?: string): CommandRejectedError
}

/**
 * Given/when/then for aggregates, with no journal and no actors: the same decide, chart check,
 * invariants and strict fold the gateway uses.
 *
 * @example
 * ```ts
 * const spec = given(account, [{ type: 'opened', owner: 'Ada' }]).when({ type: 'deposit', amount: 5 })
 * expect(spec.events).toEqual([{ type: 'deposited', amount: 5 }])
 * expect(spec.state.context.balance).toBe(5)
 * ```
 */
export function given<A extends AnyAggregate>(
  aggregate: A,
  history: readonly EventFrom<A>[] = [],
  id = 'spec',
) {
  const pid = aggregate.persistenceId(id)
  let state: AnyMachineSnapshot = aggregate.runtime.initial()
  history.forEach((event, i) => {
    if (!aggregate.runtime.can(state, event as { type: string })) {
      throw new StatesourceError(
        'RECOVERY_FAILED',
        `given: history event ${i + 1} ("${(event as { type: string }).type}") is not accepted in state ${JSON.stringify(state.value)}.`,
      )
    }
    state = aggregate.runtime.step(state, event as { type: string })
  })
  // A second fold must give the same result. It runs with the clock a day ahead, so a clock read in assign
  // or a guard differs even when both folds run in the same millisecond; randomness differs by itself.
  const again = underShiftedClock(() => {
    let folded: AnyMachineSnapshot = aggregate.runtime.initial()
    for (const event of history) folded = aggregate.runtime.step(folded, event as { type: string })
    return folded
  })
  if (JSON.stringify(aggregate.runtime.persist(again)) !== JSON.stringify(aggregate.runtime.persist(state))) {
    throw new StatesourceError(
      'INVALID_AGGREGATE',
      `given: folding the same history twice gave different states for aggregate "${aggregate.type}". Its machine is not deterministic (Date.now or Math.random in assign or guards?).`,
    )
  }
  const before = state
  return {
    /** The state after the history. */
    state: before as StateFrom<A>,
    when(command: CommandFrom<A>): AggregateSpec<A> {
      let events: EventFrom<A>[] = []
      let after = before
      let error: StatesourceError | undefined
      try {
        const decided = runDecide(aggregate, command as { type: string }, before, {
          id,
          persistenceId: pid,
          version: history.length,
          metadata: {},
        })
        after = validateEvents(aggregate, pid, (command as { type: string }).type, before, decided)
        events = decided as EventFrom<A>[]
      } catch (e) {
        if (!(e instanceof StatesourceError)) throw e
        error = e
      }
      return {
        get events() {
          if (error) throw error
          return events
        },
        state: after as StateFrom<A>,
        error,
        rejected(reason?: string) {
          if (!(error instanceof CommandRejectedError)) {
            throw new Error(
              error
                ? `Expected a rejection, got ${error.code}: ${error.message}`
                : `Expected a rejection, but the command produced ${JSON.stringify(events)}`,
            )
          }
          if (reason !== undefined && !error.message.includes(reason)) {
            throw new Error(`Expected a rejection mentioning "${reason}", got: ${error.message}`)
          }
          return error
        },
      }
    },
  }
}

const CLOCK_SHIFT_MS = 86_400_000 + 1

/** Runs `fn` with `Date.now()`, `new Date()` and `performance.now()` a day (and a millisecond) ahead. */
function underShiftedClock<T>(fn: () => T): T {
  const RealDate = globalThis.Date
  const realPerformanceNow = performance.now
  const realNow = RealDate.now
  class ShiftedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(realNow() + CLOCK_SHIFT_MS)
      else super(...(args as [number]))
    }
    static override now(): number {
      return realNow() + CLOCK_SHIFT_MS
    }
  }
  globalThis.Date = ShiftedDate as DateConstructor
  performance.now = () => realPerformanceNow.call(performance) + CLOCK_SHIFT_MS
  try {
    return fn()
  } finally {
    globalThis.Date = RealDate
    performance.now = realPerformanceNow
  }
}
