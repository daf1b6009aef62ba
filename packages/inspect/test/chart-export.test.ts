import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { defineAggregate } from '@statesource/core'
import { describe, expect, it } from 'vitest'
import { assign, createMachine, setup } from 'xstate'
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
    expect(files).toEqual([join(dir, 'order.json'), join(dir, 'order.mmd')])
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
    expect(out).toEqual([`wrote ${join(dir, 'cli', 'order.json')}`, `wrote ${join(dir, 'cli', 'order.mmd')}`])
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
    expect(err[0]).toContain('Unknown format "png". Use json, mermaid or both')
    expect(await runCli(['export', '--aggregates', join(import.meta.dirname, 'nope.ts')], io)).toBe(1)
    expect(err[1]).toContain('does not exist')
  })
})
