/**
 * The one place that touches XState's runtime API (createActor, transition, snapshots), so a move to
 * XState v6 changes one file.
 */
import { type AnyActorScope, type AnyMachineSnapshot, type AnyStateMachine, createActor } from 'xstate'

/**
 * Effect-free stepping through a machine: transitions are computed with one reused inert scope whose
 * action executor ignores every custom action, so replay and trial runs never cause side effects.
 * This is what XState's pure `transition()` does, without building a new actor system per event.
 */
export class MachineRuntime {
  readonly #machine: AnyStateMachine
  readonly #scope: AnyActorScope

  constructor(machine: AnyStateMachine) {
    this.#machine = machine
    const inert = createActor(machine)
    const noop = () => {}
    this.#scope = {
      self: inert,
      id: '',
      sessionId: '',
      system: inert.system,
      defer: noop,
      emit: noop,
      logger: noop,
      stopChild: noop,
      actionExecutor: noop,
    } as unknown as AnyActorScope
  }

  initial(): AnyMachineSnapshot {
    return this.#machine.getInitialSnapshot(this.#scope, undefined) as AnyMachineSnapshot
  }

  /** Rebuilds a live snapshot from `getPersistedSnapshot` output, without starting anything. */
  restore(persisted: unknown): AnyMachineSnapshot {
    return createActor(this.#machine, { snapshot: persisted as never }).getSnapshot() as AnyMachineSnapshot
  }

  can(snapshot: AnyMachineSnapshot, event: { type: string }): boolean {
    return snapshot.status === 'active' && snapshot.can(event)
  }

  step(snapshot: AnyMachineSnapshot, event: { type: string }): AnyMachineSnapshot {
    return this.#machine.transition(snapshot, event, this.#scope) as AnyMachineSnapshot
  }

  persist(snapshot: AnyMachineSnapshot): unknown {
    return this.#machine.getPersistedSnapshot(snapshot)
  }
}
