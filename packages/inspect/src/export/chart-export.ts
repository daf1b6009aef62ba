import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AnyAggregate } from '@statesource/core'
import type { AnyStateMachine } from 'xstate'
import { mermaidIdsOf, type StateNodeLike } from './state-nodes.ts'
import { toStatelyTypeScript } from './typescript-export.ts'

/** Why an exported chart may look wrong in Stately tools. */
export interface ChartWarning {
  /** `ANONYMOUS_ACTION`, `ANONYMOUS_GUARD` or `LAZY_CONTEXT`. */
  readonly code: 'ANONYMOUS_ACTION' | 'ANONYMOUS_GUARD' | 'LAZY_CONTEXT'
  /** Where in the config: `states.open.on.deposited.actions[1]`. */
  readonly path: string
  readonly message: string
}

/** One aggregate's chart, in the forms Stately tools and docs take. */
export interface ChartExport {
  /** The aggregate type (or the machine id for a bare machine). */
  readonly name: string
  readonly machineId: string
  /**
   * The machine config as Stately Studio and the visualizer import it: `machine.config` with named actions
   * and guards kept as names and inline functions replaced by `{ type: '(anonymous)' }`.
   */
  readonly config: Record<string, unknown>
  /** `config` as pretty JSON (what `statesource export` writes to `<name>.json`). */
  readonly json: string
  /**
   * `setup({ types, actions, guards }).createMachine(config)` as TypeScript, what Stately Studio's import
   * takes (`statesource export` writes it to `<name>.ts`). The actions and guards are stubs marked
   * `STUB (statesource export)`: the names the chart uses, with no behaviour. It creates the same machine
   * as `config` does.
   */
  readonly typescript: string
  /** A Mermaid `stateDiagram-v2` of the chart (what `statesource export` writes to `<name>.mmd`). */
  readonly mermaid: string
  /** Inline functions found in the config: they show as "(anonymous)" in the tools. */
  readonly warnings: readonly ChartWarning[]
}

/** What inline functions become in the export: a name Stately tools display, so the gap is visible. */
export const ANONYMOUS = '(anonymous)'

const GUARD_KEYS = new Set(['guard', 'cond'])
const ACTION_KEYS = new Set(['actions', 'entry', 'exit'])
// Keys that only matter to TypeScript or to the runtime, never to a diagram.
const DROPPED_KEYS = new Set(['types', 'schemas'])

/**
 * Serializes a machine's original config for Stately tools: named actions and guards stay names, built-in
 * action creators (`assign`, `raise`, ...) become their `xstate.*` type, guard combinators keep their
 * operands, and anonymous functions become `{ type: '(anonymous)' }` with a warning each.
 *
 * @example
 * ```ts
 * const { config, warnings } = toStatelyConfig(account.machine)
 * console.log(JSON.stringify(config), warnings.length)
 * ```
 *
 * @remarks
 * It reads `machine.config`, not `machine.toJSON()`: `toJSON()` is XState's resolved node tree, which
 * Stately tools do not import and in which inline functions become `null`.
 */
export function toStatelyConfig(machine: AnyStateMachine): {
  config: Record<string, unknown>
  warnings: ChartWarning[]
} {
  const warnings: ChartWarning[] = []
  const walk = (value: unknown, path: string, role: 'action' | 'guard' | 'plain'): unknown => {
    if (typeof value === 'function') {
      return serializeFunction(value as Function & Record<string, unknown>, path, role, warnings)
    }
    if (Array.isArray(value)) return value.map((item, i) => walk(item, `${path}[${i}]`, role))
    if (value === null || typeof value !== 'object') return value
    const out: Record<string, unknown> = {}
    for (const [key, child] of Object.entries(value)) {
      if (DROPPED_KEYS.has(key) && path === '') continue
      const childPath = path === '' ? key : `${path}.${key}`
      if (key === 'context' && typeof child === 'function') {
        warnings.push({
          code: 'LAZY_CONTEXT',
          path: childPath,
          message: `${childPath} is a function; the export leaves the initial context out. Give a plain object to see it in Stately tools.`,
        })
        continue
      }
      // `params` of a named action or guard is plain data, whatever it holds.
      const childRole =
        key === 'params' ? 'plain' : GUARD_KEYS.has(key) ? 'guard' : ACTION_KEYS.has(key) ? 'action' : role
      out[key] = walk(child, childPath, childRole)
    }
    return out
  }
  const config = walk(machine.config, '', 'plain') as Record<string, unknown>
  return { config, warnings }
}

function serializeFunction(
  fn: Function & Record<string, unknown>,
  path: string,
  role: 'action' | 'guard' | 'plain',
  warnings: ChartWarning[],
): unknown {
  if (role === 'guard' && Array.isArray(fn.guards)) {
    // and / or / not keep their operands, so the diagram shows the named guards they combine.
    return {
      type: `xstate.${fn.name}`,
      guards: fn.guards.map((g: unknown, i: number) =>
        typeof g === 'function'
          ? serializeFunction(
              g as Function & Record<string, unknown>,
              `${path}.guards[${i}]`,
              'guard',
              warnings,
            )
          : g,
      ),
    }
  }
  if (role === 'guard' && fn.stateValue !== undefined)
    return { type: 'xstate.stateIn', stateValue: fn.stateValue }
  if (typeof fn.type === 'string' && fn.type.startsWith('xstate.')) return { type: fn.type }
  const code = role === 'guard' ? 'ANONYMOUS_GUARD' : 'ANONYMOUS_ACTION'
  const what = role === 'guard' ? 'guard' : 'action'
  warnings.push({
    code,
    path,
    message: `${path} is an inline ${what} function; Stately tools show it as "${ANONYMOUS}". Name it in setup({ ${what}s: { ... } }) and reference it by name.`,
  })
  return { type: ANONYMOUS }
}

/**
 * Draws a machine as a Mermaid `stateDiagram-v2`: compound states as composites with their initial state,
 * parallel states as composites whose regions are separated by `--`, final states ending in `[*]` inside
 * their parent (a final state of a compound state ends that state, not the machine),
 * targetless transitions as self-loops, and guards in brackets after the event.
 *
 * @example
 * ```ts
 * await writeFile('docs/account.mmd', toMermaid(account.machine))
 * ```
 */
export function toMermaid(machine: AnyStateMachine): string {
  return buildMermaid(machine).text
}

/** @internal One arrow of the Mermaid chart: state node ids (`null` for `[*]`) and the event it stands for. */
export interface MermaidEdge {
  readonly from: string | null
  readonly to: string | null
  /** The event type, `'always'` for an eventless transition; absent for the `[*]` arrows. */
  readonly eventType?: string
}

/**
 * @internal The Mermaid text and its arrows in the order they appear, which is the order Mermaid numbers
 * them in the SVG (`data-id="edge<n>"`).
 */
export function buildMermaid(machine: AnyStateMachine): { text: string; edges: MermaidEdge[] } {
  const root = machine.root as unknown as StateNodeLike
  const ids = mermaidIdsOf(root)
  const idOf = (node: StateNodeLike) => ids.get(node.id)!
  const lines: { text: string; edge?: MermaidEdge }[] = [{ text: 'stateDiagram-v2' }]
  const transitionLines: { text: string; edge: MermaidEdge }[] = []

  const emit = (node: StateNodeLike, indent: string) => {
    const children = Object.values(node.states ?? {}).filter((c) => c.type !== 'history')
    const id = idOf(node)
    if (node !== root) lines.push({ text: `${indent}state "${label(node.key)}" as ${id}` })
    if (children.length > 0) {
      const inner = `${indent}  `
      if (node !== root) lines.push({ text: `${indent}state ${id} {` })
      const body = node === root ? indent : inner
      if (node.type === 'parallel') {
        children.forEach((child, i) => {
          if (i > 0) lines.push({ text: `${body}--` })
          emit(child, body)
        })
      } else {
        const initial = node.initial?.target?.[0]
        if (initial) {
          lines.push({ text: `${body}[*] --> ${idOf(initial)}`, edge: { from: null, to: initial.id } })
        }
        for (const child of children) emit(child, body)
        // Inside the composite, [*] is the composite's own end: a final child ends its parent, not the machine.
        for (const child of children) {
          if (child.type === 'final') {
            lines.push({ text: `${body}${idOf(child)} --> [*]`, edge: { from: child.id, to: null } })
          }
        }
      }
      if (node !== root) lines.push({ text: `${indent}}` })
    }
    const transitions: { eventType: string; target?: StateNodeLike[] | undefined; guard?: unknown }[] = []
    for (const list of node.transitions?.values() ?? []) transitions.push(...list)
    for (const t of node.always ?? []) transitions.push({ ...t, eventType: 'always' })
    for (const t of transitions) {
      const guard = describeGuard(t.guard)
      const text = label(guard ? `${t.eventType} [${guard}]` : t.eventType)
      const targets = t.target && t.target.length > 0 ? t.target : [node]
      for (const target of targets) {
        // A history target is drawn to the region it restores.
        const drawn = target.type === 'history' && target.parent ? target.parent : target
        transitionLines.push({
          text: `  ${id} --> ${idOf(drawn)}: ${text}`,
          edge: { from: node.id, to: drawn.id, eventType: t.eventType },
        })
      }
    }
  }
  emit(root, '  ')
  lines.push(...transitionLines)
  return {
    text: `${lines.map((l) => l.text).join('\n')}\n`,
    edges: lines.flatMap((l) => (l.edge ? [l.edge] : [])),
  }
}

/** @internal A guard as the chart names it: `hasItems`, `and(hasItems, isVip)`, `(anonymous)`; `''` for none. */
export function describeGuard(guard: unknown): string {
  if (guard === undefined || guard === null) return ''
  if (typeof guard === 'string') return guard
  if (typeof guard === 'function') {
    const g = guard as Function & { guards?: unknown[] }
    if (Array.isArray(g.guards)) return `${g.name}(${g.guards.map(describeGuard).join(', ')})`
    return g.name && g.name !== 'guard' ? g.name : ANONYMOUS
  }
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') {
    return (guard as { type: string }).type
  }
  return ANONYMOUS
}

// Mermaid ends a label at a colon-less newline and chokes on a few characters; keep labels one plain line.
function label(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/"/g, "'")
    .replace(/[;#]/g, ' ')
}

/**
 * Exports one aggregate's chart (or a bare machine's) as Stately JSON and Mermaid, with warnings for
 * inline functions.
 *
 * @example
 * ```ts
 * const chart = exportChart(account)
 * for (const w of chart.warnings) console.warn(w.message)
 * await writeFile('account.json', chart.json)
 * ```
 */
export function exportChart(source: AnyAggregate | AnyStateMachine): ChartExport {
  const machine = isAggregate(source) ? source.machine : source
  const machineId = (machine as { id: string }).id
  const { config, warnings } = toStatelyConfig(machine)
  return {
    name: isAggregate(source) ? source.type : machineId,
    machineId,
    config,
    json: `${JSON.stringify(config, null, 2)}\n`,
    typescript: toStatelyTypeScript(config, isAggregate(source) ? source.type : machineId),
    mermaid: toMermaid(machine),
    warnings,
  }
}

/** Options of {@link writeChartExports}. */
export interface WriteChartExportsOptions {
  /** Which files to write per aggregate. Default all: `<name>.json`, `<name>.ts` and `<name>.mmd`. */
  readonly formats?: readonly ('json' | 'ts' | 'mermaid')[]
}

/**
 * Writes `<type>.json` (Stately JSON), `<type>.ts` (the code Stately Studio imports) and `<type>.mmd`
 * (Mermaid) for each aggregate into `dir`, creating it. Returns the exports and the files written.
 *
 * @example
 * ```ts
 * const { files, exports } = await writeChartExports([account, order], 'charts')
 * ```
 */
export async function writeChartExports(
  aggregates: readonly (AnyAggregate | AnyStateMachine)[],
  dir: string,
  options: WriteChartExportsOptions = {},
): Promise<{ files: string[]; exports: ChartExport[] }> {
  const formats = new Set(options.formats ?? ['json', 'ts', 'mermaid'])
  await mkdir(dir, { recursive: true })
  const files: string[] = []
  const exports: ChartExport[] = []
  for (const source of aggregates) {
    const chart = exportChart(source)
    exports.push(chart)
    const base = chart.name.replace(/[^A-Za-z0-9_.-]/g, '_')
    if (formats.has('json')) {
      const file = join(dir, `${base}.json`)
      await writeFile(file, chart.json)
      files.push(file)
    }
    if (formats.has('ts')) {
      const file = join(dir, `${base}.ts`)
      await writeFile(file, chart.typescript)
      files.push(file)
    }
    if (formats.has('mermaid')) {
      const file = join(dir, `${base}.mmd`)
      await writeFile(file, chart.mermaid)
      files.push(file)
    }
  }
  return { files, exports }
}

/** @internal */
export function isAggregate(value: unknown): value is AnyAggregate {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AnyAggregate).type === 'string' &&
    typeof (value as AnyAggregate).machine === 'object' &&
    typeof (value as AnyAggregate).persistenceId === 'function'
  )
}
