/** Marks every stub in the generated code, so a search finds them all. */
export const STUB_MARK = 'STUB (statesource export)'

const COMBINATORS: Record<string, string> = {
  'xstate.and': 'and',
  'xstate.or': 'or',
  'xstate.not': 'not',
}
const GUARD_KEYS = new Set(['guard', 'cond'])
const ACTION_KEYS = new Set(['actions', 'entry', 'exit'])
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/** Raw TypeScript placed as is by the printer. */
class Code {
  constructor(readonly text: string) {}
}

/**
 * The TypeScript Stately Studio imports: `setup({ types, actions, guards }).createMachine(config)` with
 * `config` the Stately JSON export, guard combinators written as `and([...])`/`or`/`not`/`stateIn`, and
 * a clearly marked stub for every action and guard name the chart uses.
 */
export function toStatelyTypeScript(config: Record<string, unknown>, name: string): string {
  const actions = new Set<string>()
  const guards = new Set<string>()
  const events = new Set<string>()
  const usedCombinators = new Set<string>()

  const guardCode = (guard: unknown): unknown => {
    if (typeof guard === 'string') {
      guards.add(guard)
      return guard
    }
    if (guard === null || typeof guard !== 'object') return guard
    const g = guard as { type?: unknown; guards?: unknown; stateValue?: unknown }
    if (typeof g.type === 'string' && COMBINATORS[g.type] && Array.isArray(g.guards)) {
      const fn = COMBINATORS[g.type]!
      usedCombinators.add(fn)
      const operands = g.guards.map(guardCode)
      return new Code(fn === 'not' ? `not(${print(operands[0], '')})` : `${fn}(${print(operands, '')})`)
    }
    if (g.type === 'xstate.stateIn') {
      usedCombinators.add('stateIn')
      return new Code(`stateIn(${print(g.stateValue, '')})`)
    }
    if (typeof g.type === 'string') guards.add(g.type)
    return guard
  }
  const actionCode = (action: unknown): unknown => {
    if (Array.isArray(action)) return action.map(actionCode)
    if (typeof action === 'string') actions.add(action)
    else if (action && typeof action === 'object' && typeof (action as { type?: unknown }).type === 'string')
      actions.add((action as { type: string }).type)
    return action
  }
  const walk = (value: unknown, key: string | undefined): unknown => {
    if (key !== undefined && GUARD_KEYS.has(key)) return guardCode(value)
    if (key !== undefined && ACTION_KEYS.has(key)) return actionCode(value)
    if (Array.isArray(value)) return value.map((v) => walk(v, undefined))
    if (value === null || typeof value !== 'object') return value
    if (key === 'context' || key === 'meta' || key === 'output' || key === 'params') return value
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      if (key === 'on' && k !== '*' && !k.endsWith('.*')) events.add(k)
      out[k] = walk(v, k)
    }
    return out
  }
  const body = walk(config, undefined) as Record<string, unknown>

  const setupLines: string[] = []
  const types: string[] = []
  if ('context' in config) types.push(`    context: {} as ${typeOf(config.context, '    ')},`)
  if (events.size > 0) {
    types.push(`    events: {} as${[...events].map((e) => `\n      | { type: ${quote(e)} }`).join('')},`)
  }
  if (types.length > 0) setupLines.push('  types: {', ...types, '  },')
  if (actions.size > 0) {
    setupLines.push('  actions: {')
    for (const action of actions) {
      setupLines.push(`    // ${STUB_MARK}: does nothing. ${origin(action)}`)
      setupLines.push(`    ${key(action)}: () => {},`)
    }
    setupLines.push('  },')
  }
  if (guards.size > 0) {
    setupLines.push('  guards: {')
    for (const guard of guards) {
      setupLines.push(`    // ${STUB_MARK}: always true. ${origin(guard)}`)
      setupLines.push(`    ${key(guard)}: () => true,`)
    }
    setupLines.push('  },')
  }
  const imports = ['setup', ...usedCombinators].sort()
  return [
    `// The chart of "${name}", exported by statesource for Stately Studio (Import -> code).`,
    `// Actions and guards are stubs marked "${STUB_MARK}": they keep the names the chart uses,`,
    '// so the machine type-checks and draws. The real implementations are in your code.',
    `import { ${imports.join(', ')} } from 'xstate'`,
    '',
    `export const machine = setup({${setupLines.length > 0 ? `\n${setupLines.join('\n')}\n` : ''}}).createMachine(${print(body, '')})`,
    '',
  ].join('\n')
}

function origin(name: string): string {
  if (name === '(anonymous)') return 'Stands for inline functions, which have no name to export.'
  if (name.startsWith('xstate.'))
    return `Stands for XState's built-in ${name.slice(7)}(...), whose arguments are code.`
  return `The real "${name}" is in your code.`
}

/** A TypeScript type for a JSON value: primitives widened, `null` and empty arrays as `unknown`. */
function typeOf(value: unknown, indent: string): string {
  if (value === null || value === undefined) return 'unknown'
  if (typeof value === 'string') return 'string'
  if (typeof value === 'number') return 'number'
  if (typeof value === 'boolean') return 'boolean'
  if (Array.isArray(value)) {
    const items = [...new Set(value.map((v) => typeOf(v, indent)))]
    if (items.length === 0 || items.includes('unknown')) return 'unknown[]'
    return items.length === 1 ? `${items[0]}[]` : `(${items.join(' | ')})[]`
  }
  const entries = Object.entries(value as Record<string, unknown>)
  if (entries.length === 0) return 'Record<string, unknown>'
  const inner = `${indent}  `
  return `{\n${entries.map(([k, v]) => `${inner}${key(k)}: ${typeOf(v, inner)}`).join('\n')}\n${indent}}`
}

function quote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`
}

function key(text: string): string {
  return IDENTIFIER.test(text) ? text : quote(text)
}

/** Prints a value as TypeScript: one line when it fits in 100 columns, else one entry per line. */
function print(value: unknown, indent: string): string {
  if (value instanceof Code) return value.text
  if (typeof value === 'string') return quote(value)
  if (value === undefined) return 'undefined'
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  const inner = `${indent}  `
  const entries = Array.isArray(value)
    ? value.map((v) => print(v, inner))
    : Object.entries(value).map(([k, v]) => `${key(k)}: ${print(v, inner)}`)
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}']
  if (entries.length === 0) return `${open}${close}`
  const oneLine = Array.isArray(value) ? `[${entries.join(', ')}]` : `{ ${entries.join(', ')} }`
  if (!oneLine.includes('\n') && indent.length + oneLine.length <= 100) return oneLine
  return `${open}\n${entries.map((e) => `${inner}${e},`).join('\n')}\n${indent}${close}`
}
