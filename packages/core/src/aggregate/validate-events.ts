// Hot path: measured by packages/bench/src/cases/statesource-case.ts (pnpm bench). Measure before and after changing this file.
import type { AnyMachineSnapshot } from 'xstate'
import { CommandRejectedError } from '../errors.ts'
import type { AnyAggregate } from './define-aggregate.ts'

/** Describes the active state(s) of a snapshot for messages: `"open"`, `{"checkout":"paying"}`. */
export function describeState(snapshot: AnyMachineSnapshot): string {
  return JSON.stringify(snapshot.value)
}

/**
 * Checks that the chart accepts each decided event in the state it meets (chained `can` through
 * effect-free transitions), then checks the invariants on the resulting trial state. Returns the trial
 * state; throws a {@link CommandRejectedError} naming the event, the state and the aggregate.
 */
export function validateEvents(
  aggregate: AnyAggregate,
  persistenceId: string,
  commandType: string,
  state: AnyMachineSnapshot,
  events: readonly { type: string }[],
): AnyMachineSnapshot
/**
 * With `needTrial: false`, the last event is only checked with `can` and not stepped when no invariant
 * needs the resulting state: the live actor computes it after the commit, one transition fewer per command.
 * Returns `undefined` in that case.
 */
export function validateEvents(
  aggregate: AnyAggregate,
  persistenceId: string,
  commandType: string,
  state: AnyMachineSnapshot,
  events: readonly { type: string }[],
  needTrial: boolean,
): AnyMachineSnapshot | undefined
export function validateEvents(
  aggregate: AnyAggregate,
  persistenceId: string,
  commandType: string,
  state: AnyMachineSnapshot,
  events: readonly { type: string }[],
  needTrial = true,
): AnyMachineSnapshot | undefined {
  const invariants = Object.entries(aggregate.invariants)
  const stepLast = needTrial || invariants.length > 0
  let probe = state
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!
    if (!aggregate.runtime.can(probe, event)) {
      throw new CommandRejectedError(
        persistenceId,
        commandType,
        `event "${event.type}" is not accepted by aggregate "${aggregate.type}" in state ${describeState(probe)}`,
        'statechart',
        { event: event.type, state: probe.value },
      )
    }
    if (i < events.length - 1 || stepLast) probe = aggregate.runtime.step(probe, event)
  }
  if (!stepLast) return undefined
  for (const [name, invariant] of invariants) {
    let verdict: unknown
    try {
      verdict = invariant(probe as never)
    } catch (error) {
      verdict = `it threw: ${(error as Error)?.message ?? String(error)}`
    }
    if (verdict === false || typeof verdict === 'string') {
      throw new CommandRejectedError(
        persistenceId,
        commandType,
        `invariant "${name}" of aggregate "${aggregate.type}" would be violated${typeof verdict === 'string' ? `: ${verdict}` : ''}`,
        'invariant',
        { invariant: name },
        { by: name },
      )
    }
  }
  return probe
}
