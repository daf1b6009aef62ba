import type { AnyAggregate } from '@statesource/core'
import { allStateNodes, type StateNodeLike } from '../export/state-nodes.ts'

/** What {@link checkChart} found in one aggregate's chart. */
export interface ChartCheckResult {
  readonly aggregate: string
  /** State node ids (`order.checkout.refunded`) that no sequence of events can enter. */
  readonly unreachableStates: readonly string[]
  /** Event types the chart handles but no command handler's source mentions. */
  readonly eventsNoDecideProduces: readonly string[]
  /** Event types some command handler mentions but the chart handles nowhere. */
  readonly eventsTheChartIgnores: readonly string[]
  /** True when nothing was found. */
  readonly ok: boolean
}

/**
 * Static checks of an aggregate's chart: states unreachable by any event, event types that no `decide`
 * can produce, and event types `decide` mentions that the chart never handles.
 *
 * @example
 * ```ts
 * const result = checkChart(order)
 * if (!result.ok) console.log(result.unreachableStates, result.eventsNoDecideProduces)
 * ```
 *
 * @remarks
 * Reachability ignores guards (a guarded transition counts as possible) and follows every transition,
 * eventless ones included; entering a state enters its ancestors, its initial child, and every region of
 * a parallel state. Which events `decide` produces is read from the source text of the command handlers
 * (`type: 'shipped'` or any quoted event type). An event type built at run time (`type: cmd.kind`)
 * cannot be seen: list such types in `producedEvents`.
 */
export function checkChart(
  aggregate: AnyAggregate,
  options: { readonly producedEvents?: readonly string[] } = {},
): ChartCheckResult {
  const root = aggregate.machine.root as unknown as StateNodeLike
  const unreachableStates = findUnreachableStates(root)
  const produced = eventsDecideProduces(aggregate, options.producedEvents ?? [])
  const handled = new Set(aggregate.eventTypes)
  const eventsNoDecideProduces = aggregate.eventTypes.filter((t) => !produced.has(t))
  const eventsTheChartIgnores = [...produced].filter((t) => !handled.has(t) && !t.startsWith('xstate.'))
  return {
    aggregate: aggregate.type,
    unreachableStates,
    eventsNoDecideProduces,
    eventsTheChartIgnores,
    ok:
      unreachableStates.length === 0 &&
      eventsNoDecideProduces.length === 0 &&
      eventsTheChartIgnores.length === 0,
  }
}

/** @internal State node ids that no transition can enter, in document order. */
export function findUnreachableStates(root: StateNodeLike): string[] {
  const reached = new Set<StateNodeLike>()
  const queue: StateNodeLike[] = []
  const enter = (node: StateNodeLike) => {
    if (reached.has(node)) return
    reached.add(node)
    queue.push(node)
    if (node.parent) enter(node.parent)
    if (node.type === 'history' && node.parent) {
      // A history state restores some earlier child of its parent, each of which is reachable only
      // through the parent's own entries; entering it means at least the parent's initial state.
      const initial = node.parent.initial?.target ?? []
      for (const t of initial) enter(t)
    }
    if (node.type === 'parallel') for (const child of Object.values(node.states)) enter(child)
    if (node.type === 'compound') for (const t of node.initial?.target ?? []) enter(t)
  }
  enter(root)
  while (queue.length > 0) {
    const node = queue.shift()!
    const transitions: { target?: StateNodeLike[] | undefined }[] = [...(node.always ?? [])]
    for (const list of node.transitions?.values() ?? []) transitions.push(...list)
    for (const t of transitions) for (const target of t.target ?? []) enter(target)
  }
  return allStateNodes(root)
    .filter((node) => !reached.has(node) && node.type !== 'history')
    .map((node) => node.id)
}

function eventsDecideProduces(aggregate: AnyAggregate, extra: readonly string[]): Set<string> {
  const produced = new Set<string>(extra)
  const known = new Set(aggregate.eventTypes)
  for (const handler of Object.values(aggregate.commands as Record<string, Function>)) {
    const source = Function.prototype.toString.call(handler)
    // Any quoted string that names an event type of the chart, plus `type: '...'` literals the chart
    // does not know (those are events decide emits that the chart would reject).
    for (const match of source.matchAll(/(['"`])((?:(?!\1)[^\\\n])+)\1/g)) {
      const text = match[2]!
      if (known.has(text)) produced.add(text)
    }
    for (const match of source.matchAll(/\btype\s*:\s*(['"`])((?:(?!\1)[^\\\n$])+)\1/g))
      produced.add(match[2]!)
  }
  return produced
}
