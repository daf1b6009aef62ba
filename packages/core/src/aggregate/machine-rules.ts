import type { AnyStateMachine } from 'xstate'

interface NodeLike {
  id: string
  key: string
  states: Record<string, NodeLike>
  after?: unknown[]
  invoke?: unknown[]
  entry?: unknown[]
  exit?: unknown[]
  transitions?: Map<string, { actions?: unknown[] }[]>
}

/**
 * Finds what makes an aggregate machine non-deterministic or able to act on its own: delayed transitions
 * (`after`), invoked or spawned actors, and delayed raises/sends, whether written inline or named in
 * `setup({ actions })` (the implementation a name points to is checked). Replay is a pure fold, so a machine
 * that does any of these would reach states the journal never recorded. What cannot be seen statically is
 * not found: clocks and randomness inside `assign`, and actions chosen at run time by `enqueueActions`; the
 * docs forbid them and `given()` checks folds for determinism.
 */
export function findNonDeterminism(machine: AnyStateMachine): string[] {
  const problems: string[] = []
  const implementations =
    (machine as { implementations?: { actions?: Record<string, unknown> } }).implementations?.actions ?? {}
  const visit = (node: NodeLike) => {
    const where = `state "${node.id}"`
    if (node.after && node.after.length > 0) problems.push(`${where} has a delayed transition (after)`)
    if (node.invoke && node.invoke.length > 0) problems.push(`${where} invokes an actor (invoke)`)
    const actions: unknown[] = [...(node.entry ?? []), ...(node.exit ?? [])]
    for (const list of node.transitions?.values() ?? [])
      for (const t of list) actions.push(...(t.actions ?? []))
    for (const action of actions) {
      const named = namedAction(action)
      const problem = describeAction(named === undefined ? action : implementations[named])
      if (problem)
        problems.push(`${where} ${named === undefined ? problem : `${problem} in action "${named}"`}`)
    }
    for (const child of Object.values(node.states ?? {})) visit(child)
  }
  visit(machine.root as unknown as NodeLike)
  return [...new Set(problems)]
}

/** The name of an action that refers to `setup({ actions })` (`'name'` or `{ type: 'name', params }`). */
function namedAction(action: unknown): string | undefined {
  if (typeof action === 'string') return action
  if (
    typeof action === 'object' &&
    action !== null &&
    typeof (action as { type?: unknown }).type === 'string'
  ) {
    const type = (action as { type: string }).type
    return type.startsWith('xstate.') ? undefined : type
  }
  return undefined
}

function describeAction(action: unknown): string | undefined {
  if (typeof action !== 'function' && (typeof action !== 'object' || action === null)) return undefined
  const a = action as { type?: unknown; delay?: unknown }
  if (a.type === 'xstate.spawnChild') return 'spawns a child actor (spawnChild)'
  if ((a.type === 'xstate.raise' || a.type === 'xstate.sendTo') && a.delay !== undefined) {
    return `schedules a delayed event (${a.type === 'xstate.raise' ? 'raise' : 'sendTo'} with delay)`
  }
  return undefined
}
