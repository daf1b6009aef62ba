import type { AnyAggregate } from '@statesource/core'
import { type AnyStateMachine, createMachine } from 'xstate'
import { describeGuard } from '../export/chart-export.ts'
import { allStateNodes, type StateNodeLike, statePath } from '../export/state-nodes.ts'

/** A change from the baseline chart after which stored history may no longer replay. */
export interface ChartChange {
  /**
   * `state-removed`: a state of the baseline is gone (history that reached it no longer replays);
   * `transition-removed`: a state no longer takes an event it took (stored events of that type are refused);
   * `guard-added`: a transition that always applied now has a guard (stored events are refused when it
   * returns false); `target-changed`: an event now leads elsewhere (later stored events meet another state);
   * `initial-changed`: the chart (or a compound state) starts elsewhere.
   */
  readonly kind: 'state-removed' | 'transition-removed' | 'guard-added' | 'target-changed' | 'initial-changed'
  /** The baseline state node id: `order.checkout.payment.failed`. */
  readonly state: string
  /** The event type, for transition changes. */
  readonly eventType?: string
  readonly message: string
}

/** What {@link checkChart} found in one aggregate's chart. */
export interface ChartCheckResult {
  readonly aggregate: string
  /** State node ids (`order.checkout.refunded`) that no sequence of events can enter. */
  readonly unreachableStates: readonly string[]
  /** Event types the chart handles but no command handler's source mentions. */
  readonly eventsNoDecideProduces: readonly string[]
  /** Event types some command handler mentions but the chart handles nowhere. */
  readonly eventsTheChartIgnores: readonly string[]
  /** With a `baseline`: changes after which history the baseline wrote may no longer replay. */
  readonly historyBreakingChanges: readonly ChartChange[]
  /** True when nothing was found. */
  readonly ok: boolean
}

/** Options of {@link checkChart}. */
export interface ChartCheckOptions {
  /** Event types `decide` builds at run time, which its source text cannot show. */
  readonly producedEvents?: readonly string[]
  /**
   * The chart the stored history was written with: the Stately JSON `statesource export` wrote
   * (`JSON.parse(<type>.json)`), or a machine. Changes that can make that history unreadable are reported
   * in `historyBreakingChanges`.
   */
  readonly baseline?: Record<string, unknown> | AnyStateMachine
}

/**
 * Static checks of an aggregate's chart: states unreachable by any event, event types that no `decide`
 * can produce, event types `decide` mentions that the chart never handles and, against a baseline (the
 * chart the stored history was written with), changes that can make that history unreadable.
 *
 * @example
 * ```ts
 * const baseline = JSON.parse(await readFile('statecharts/order.json', 'utf8'))
 * const result = checkChart(order, { baseline })
 * for (const change of result.historyBreakingChanges) console.log(change.message)
 * ```
 *
 * @remarks
 * Reachability ignores guards (a guarded transition counts as possible) and follows every transition,
 * eventless ones included; entering a state enters its ancestors, its initial child, and every region of
 * a parallel state. Which events `decide` produces is read from the source text of the command handlers
 * (`type: 'shipped'` or any quoted event type). An event type built at run time (`type: cmd.kind`)
 * cannot be seen: list such types in `producedEvents`. Without a baseline a chart cannot know which
 * changes break stored history: the journal audit (`auditJournal`) is the check over the data itself.
 */
export function checkChart(aggregate: AnyAggregate, options: ChartCheckOptions = {}): ChartCheckResult {
  const root = aggregate.machine.root as unknown as StateNodeLike
  const unreachableStates = findUnreachableStates(root)
  const produced = eventsDecideProduces(aggregate, options.producedEvents ?? [])
  const handled = new Set(aggregate.eventTypes)
  const eventsNoDecideProduces = aggregate.eventTypes.filter((t) => !produced.has(t))
  const eventsTheChartIgnores = [...produced].filter((t) => !handled.has(t) && !t.startsWith('xstate.'))
  const historyBreakingChanges = options.baseline ? compareCharts(options.baseline, root) : []
  return {
    aggregate: aggregate.type,
    unreachableStates,
    eventsNoDecideProduces,
    eventsTheChartIgnores,
    historyBreakingChanges,
    ok:
      unreachableStates.length === 0 &&
      eventsNoDecideProduces.length === 0 &&
      eventsTheChartIgnores.length === 0 &&
      historyBreakingChanges.length === 0,
  }
}

/** @internal The changes from `baseline` to `current` that can make stored history unreadable. */
export function compareCharts(
  baseline: Record<string, unknown> | AnyStateMachine,
  current: StateNodeLike,
): ChartChange[] {
  const before = (isMachine(baseline)
    ? baseline.root
    : createMachine(baseline as never).root) as unknown as StateNodeLike
  const byId = new Map(allStateNodes(current).map((n) => [pathOf(n), n]))
  const changes: ChartChange[] = []
  for (const old of allStateNodes(before)) {
    const path = pathOf(old)
    const now = byId.get(path)
    const at = path === '' ? 'the machine' : `state "${path}"`
    if (!now) {
      changes.push({
        kind: 'state-removed',
        state: old.id,
        message: `${at} was removed: stored history that reached it no longer replays.`,
      })
      continue
    }
    const oldInitial = (old.initial?.target ?? []).map(pathOf).join(',')
    const newInitial = (now.initial?.target ?? []).map(pathOf).join(',')
    if (oldInitial !== newInitial && oldInitial !== '') {
      changes.push({
        kind: 'initial-changed',
        state: old.id,
        message: `${at} now starts in "${newInitial}" instead of "${oldInitial}": stored history replays from another state.`,
      })
    }
    for (const [eventType, oldList] of old.transitions ?? []) {
      const newList = now.transitions?.get(eventType) ?? []
      const on = `${at} on "${eventType}"`
      if (newList.length === 0) {
        changes.push({
          kind: 'transition-removed',
          state: old.id,
          eventType,
          message: `${on}: the transition was removed, so stored "${eventType}" events met there are refused.`,
        })
        continue
      }
      const oldUnguarded = oldList.some((t) => describeGuard(t.guard) === '')
      const newUnguarded = newList.some((t) => describeGuard(t.guard) === '')
      if (oldUnguarded && !newUnguarded) {
        const guards = newList.map((t) => `"${describeGuard(t.guard)}"`).join(', ')
        changes.push({
          kind: 'guard-added',
          state: old.id,
          eventType,
          message: `${on}: the transition is now guarded by ${guards}; stored events it took are refused where the guard returns false.`,
        })
      }
      const targets = (list: typeof oldList) =>
        new Set(list.map((t) => (t.target ?? []).map(pathOf).join(',') || '(self)'))
      const oldTargets = targets(oldList)
      const newTargets = targets(newList)
      const lost = [...oldTargets].filter((t) => !newTargets.has(t))
      if (lost.length > 0) {
        changes.push({
          kind: 'target-changed',
          state: old.id,
          eventType,
          message: `${on}: leads to ${[...newTargets].map((t) => `"${t}"`).join(', ')} instead of ${lost.map((t) => `"${t}"`).join(', ')}; later stored events meet another state.`,
        })
      }
    }
  }
  return changes
}

// By path of keys, not id, so that a renamed machine or a custom state id still compares.
const pathOf = statePath

function isMachine(value: unknown): value is AnyStateMachine {
  return typeof value === 'object' && value !== null && 'root' in value && 'config' in value
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
