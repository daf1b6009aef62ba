// Hot path: measured by packages/bench/src/cases/statesource-case.ts and packages/bench/src/cases/recovery-case.ts (pnpm bench). Measure before and after changing this file.
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
  /** The initial snapshot and its persisted form, when they can be shared (see {@link initial}). */
  #shared: { readonly snapshot: AnyMachineSnapshot; persisted: unknown } | undefined

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

  /**
   * The machine's initial snapshot. Computing it costs a full XState initial microstep, so it is computed
   * once when that is safe: when the initial context is the machine's static `context` object itself (no
   * context factory, no `assign` on entry), XState already hands that same object to every actor, and
   * sharing the (immutable) snapshot around it changes nothing. Otherwise each call computes a fresh one.
   */
  initial(): AnyMachineSnapshot {
    if (this.#shared) return this.#shared.snapshot
    const snapshot = this.#machine.getInitialSnapshot(this.#scope, undefined) as AnyMachineSnapshot
    const context = (this.#machine.config as { context?: unknown }).context
    if (snapshot.status === 'active' && context !== undefined && snapshot.context === context) {
      this.#shared = { snapshot, persisted: undefined }
    }
    return snapshot
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
    const shared = this.#shared
    if (shared && snapshot === shared.snapshot) {
      shared.persisted ??= this.#machine.getPersistedSnapshot(snapshot)
      return shared.persisted
    }
    return this.#machine.getPersistedSnapshot(snapshot)
  }
}
