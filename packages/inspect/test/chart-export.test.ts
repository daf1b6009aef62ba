import { spawnSync } from 'node:child_process'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { defineAggregate } from '@statesource/core'
import { describe, expect, it } from 'vitest'
import { and, assign, createMachine, not, or, setup, stateIn } from 'xstate'
import { exportChart, runCli, toMermaid, writeChartExports } from '../src/index.ts'
import { order, orderMachine, tempDir } from './fixtures.ts'

describe('chart export', () => {
  it('round-trips a chart with nested and parallel states to an equivalent machine config', () => {
    const chart = exportChart(order)
    expect(chart.warnings).toEqual([])
    const imported = JSON.parse(chart.json)
    expect(imported.states.checkout.type).toBe('parallel')
    expect(imported.states.draft.on.submitted).toEqual({ target: 'checkout', guard: 'hasItems' })

    // What Stately Studio does on import: the same config with the same named implementations.
    const rebuilt = setup({
      actions: orderMachine.implementations.actions as never,
      guards: orderMachine.implementations.guards as never,
    }).createMachine(imported)
    expect(exportChart(rebuilt).config).toEqual(chart.config)
    expect(JSON.stringify(rebuilt.root.definition)).toBe(JSON.stringify(orderMachine.root.definition))

    // And it behaves the same: a fold through both machines reaches the same states and context.
    const events = [
      { type: 'itemAdded', sku: 'tea', price: 4 },
      { type: 'submitted' },
      { type: 'paymentFailed', reason: 'declined' },
      { type: 'paymentRetried' },
      { type: 'paymentAuthorized', reference: 'p-2' },
      { type: 'packed' },
    ]
    const fold = (machine: typeof orderMachine) => {
      const runtime = defineAggregate({ type: 'probe', machine, commands: { noop: () => [] } }).runtime
      let state = runtime.initial()
      const values: unknown[] = []
      for (const e of events) {
        state = runtime.step(state, e)
        values.push(state.value)
      }
      return { values, context: state.context }
    }
    expect(fold(rebuilt as never)).toEqual(fold(orderMachine))
    expect(fold(orderMachine).values.at(-1)).toEqual({
      checkout: { payment: 'authorized', shipping: 'ready' },
    })
  })

  it('draws nested states as composites and parallel regions separated by --', () => {
    const mermaid = toMermaid(orderMachine)
    expect(mermaid.startsWith('stateDiagram-v2\n')).toBe(true)
    expect(mermaid).toContain('state s_order__checkout {')
    expect(mermaid).toMatch(
      /state s_order__checkout__payment \{[\s\S]*\n {4}--\n[\s\S]*state s_order__checkout__shipping \{/,
    )
    expect(mermaid).toContain('[*] --> s_order__checkout__payment__awaiting')
    expect(mermaid).toContain('s_order__draft --> s_order__checkout: submitted [hasItems]')
    expect(mermaid).toContain('s_order__draft --> s_order__draft: itemAdded')
    expect(mermaid).toContain('s_order__checkout__shipping__ready --> s_order__completed: shipped')
    expect(mermaid).toContain('s_order__completed --> [*]')
  })

  it('warns about anonymous actions and guards and exports them as "(anonymous)"', () => {
    const machine = createMachine({
      id: 'sloppy',
      initial: 'a',
      context: { n: 0 },
      states: {
        a: {
          entry: () => {},
          on: { go: { target: 'b', guard: ({ context }) => context.n === 0, actions: assign({ n: 1 }) } },
        },
        b: {},
      },
    })
    const chart = exportChart(machine)
    expect(chart.warnings.map((w) => [w.code, w.path])).toEqual([
      ['ANONYMOUS_ACTION', 'states.a.entry'],
      ['ANONYMOUS_GUARD', 'states.a.on.go.guard'],
    ])
    expect(chart.warnings[0]!.message).toContain('Name it in setup({ actions')
    expect(chart.config).toMatchObject({
      states: {
        a: {
          entry: { type: '(anonymous)' },
          on: { go: { guard: { type: '(anonymous)' }, actions: { type: 'xstate.assign' } } },
        },
      },
    })
  })

  it('writes <type>.json and <type>.mmd, and the CLI does the same and prints the warnings', async () => {
    const dir = tempDir()
    const { files } = await writeChartExports([order], dir)
    expect(files).toEqual([join(dir, 'order.json'), join(dir, 'order.ts'), join(dir, 'order.mmd')])
    expect(JSON.parse(await readFile(files[0]!, 'utf8'))).toEqual(exportChart(order).config)

    const out: string[] = []
    const err: string[] = []
    const code = await runCli(
      ['export', '--aggregates', join(import.meta.dirname, 'fixtures.ts'), '--out', join(dir, 'cli')],
      {
        out: (l) => out.push(l),
        err: (l) => err.push(l),
      },
    )
    expect(code).toBe(0)
    expect(out).toEqual([
      `wrote ${join(dir, 'cli', 'order.json')}`,
      `wrote ${join(dir, 'cli', 'order.ts')}`,
      `wrote ${join(dir, 'cli', 'order.mmd')}`,
    ])
    expect(await readFile(join(dir, 'cli', 'order.mmd'), 'utf8')).toBe(toMermaid(orderMachine))
  })

  it('refuses an unknown format and a module without aggregates with a message saying what to do', async () => {
    const err: string[] = []
    const io = { out: () => {}, err: (l: string) => err.push(l) }
    expect(
      await runCli(
        ['export', '--aggregates', join(import.meta.dirname, 'fixtures.ts'), '--format', 'png'],
        io,
      ),
    ).toBe(1)
    expect(err[0]).toContain('Unknown format "png". Use json, ts, mermaid or a list of them')
    expect(await runCli(['export', '--aggregates', join(import.meta.dirname, 'nope.ts')], io)).toBe(1)
    expect(err[1]).toContain('does not exist')
  })
})

/** Type-checks TypeScript files with the repository's tsc, as strictly as the repository's own code. */
function typecheck(dir: string, files: string[]): { code: number; output: string } {
  const require = createRequire(import.meta.url)
  mkdirSync(join(dir, 'node_modules'), { recursive: true })
  symlinkSync(dirname(require.resolve('xstate/package.json')), join(dir, 'node_modules', 'xstate'))
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        noEmit: true,
        skipLibCheck: true,
        types: [],
      },
      files,
    }),
  )
  const tsc = join(REPO_ROOT, 'node_modules', '.bin', 'tsc')
  const run = spawnSync(tsc, ['-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' })
  return { code: run.status ?? -1, output: `${run.stdout}${run.stderr}` }
}

const REPO_ROOT = resolve(import.meta.dirname, '../../..')

/** A chart with everything the TypeScript export has to write: params, combinators, built-ins, inline code. */
const kitchenSink = setup({
  types: {
    context: {} as { amount: number; reason: string | null; tags: string[] },
    events: {} as { type: 'paid'; amount: number } | { type: 'refunded' } | { type: 'closed' },
  },
  actions: { record: () => {}, notify: (_, params: { channel: string }) => void params },
  guards: {
    withinAmount: () => true,
    isVip: (_, params: { level: number }) => params.level > 1,
    notBlocked: () => true,
  },
}).createMachine({
  id: 'payment',
  initial: 'open',
  context: { amount: 0, reason: null, tags: [] },
  states: {
    open: {
      entry: [{ type: 'notify', params: { channel: 'mail' } }],
      on: {
        paid: {
          target: 'settled',
          guard: and(['withinAmount', or([{ type: 'isVip', params: { level: 2 } }, not('notBlocked')])]),
          actions: ['record', assign({ amount: ({ event }) => event.amount })],
        },
      },
    },
    settled: {
      initial: 'paid',
      states: {
        paid: { on: { refunded: { target: 'refunded', guard: stateIn('#payment.settled') } } },
        refunded: { type: 'final' },
      },
      onDone: 'closed',
    },
    closed: { type: 'final', entry: () => {} },
  },
})

describe('TypeScript export for Stately Studio', () => {
  it('type-checks and re-creates the same machine as the JSON export', async () => {
    const dir = tempDir()
    const charts = [exportChart(order), exportChart(kitchenSink)]
    for (const chart of charts) writeFileSync(join(dir, `${chart.name}.ts`), chart.typescript)
    const result = typecheck(
      dir,
      charts.map((c) => `${c.name}.ts`),
    )
    expect(result.output).toBe('')
    expect(result.code).toBe(0)

    for (const chart of charts) {
      const { machine } = (await import(join(dir, `${chart.name}.ts`))) as { machine: typeof orderMachine }
      // The same config as the JSON export, and so the same machine as `createMachine(json)` makes.
      expect(exportChart(machine).config).toEqual(chart.config)
    }
    const { machine } = (await import(join(dir, 'order.ts'))) as { machine: typeof orderMachine }
    expect(JSON.stringify(machine.root.definition)).toBe(
      JSON.stringify(createMachine(JSON.parse(charts[0]!.json)).root.definition),
    )
  })

  it('names every stub and writes guard combinators as code', () => {
    const code = exportChart(kitchenSink).typescript
    expect(code).toContain("import { and, not, or, setup, stateIn } from 'xstate'")
    expect(code).toContain('// STUB (statesource export): does nothing. The real "record" is in your code.')
    expect(code).toContain(
      '// STUB (statesource export): always true. The real "withinAmount" is in your code.',
    )
    expect(code).toContain(
      "guard: and(['withinAmount', or([{ type: 'isVip', params: { level: 2 } }, not('notBlocked')])])",
    )
    expect(code).toContain("guard: stateIn('#payment.settled')")
    // Built-in and inline actions keep the names the JSON gives them, as stubs too.
    expect(code).toContain(
      "    // STUB (statesource export): does nothing. Stands for XState's built-in assign(...), whose arguments are code.\n    'xstate.assign': () => {},",
    )
    expect(code).toContain("'(anonymous)': () => {},")
    expect(code).toMatch(
      /context: \{\} as \{\n\s+amount: number\n\s+reason: unknown\n\s+tags: unknown\[\]\n\s+\}/,
    )
    expect(code).toContain("events: {} as\n      | { type: 'paid' }\n      | { type: 'refunded' }")
  })

  it('draws a final state of a compound state inside it, ending the compound state only', () => {
    const mermaid = toMermaid(kitchenSink)
    const block = mermaid.slice(mermaid.indexOf('state s_payment__settled {'))
    const inner = block.slice(0, block.indexOf('\n  }'))
    expect(inner).toContain('s_payment__settled__refunded --> [*]')
    // Only the machine's own final states end at the top level.
    const topLevel = mermaid.split('\n').filter((l) => /^ {2}\S/.test(l) && l.includes('--> [*]'))
    expect(topLevel).toEqual(['  s_payment__closed --> [*]'])
  })
})
