import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type EventEnvelope, foldEvents } from '@statesource/core'
import { runDemo } from '@statesource/demo'
import { order } from '@statesource/demo/aggregates'
import { runCli } from '@statesource/inspect'
import { openSqlite } from '@statesource/sqlite'
import {
  chromiumMissing,
  describeWithChromium,
  type LoopbackPage,
  openLoopbackPage,
  saveScreenshot,
} from '@statesource/test-support/browser'
import { type RunningServerCommand, startServerCommand } from '@statesource/test-support/server-command'
import { afterAll, beforeAll, expect, it } from 'vitest'

// Functions passed to page.evaluate run in the page; the tests' TypeScript has no DOM types.
declare const document: any
declare const window: any

const DEMO_PACKAGE = path.dirname(fileURLToPath(import.meta.resolve('@statesource/demo/package.json')))
const PRINTED_PREFIX = 'pnpm --filter @statesource/demo exec statesource '

const dir = mkdtempSync(path.join(tmpdir(), 'statesource-viewer-demo-'))

/** The ids of the state nodes a state value makes active, from `root` down, as XState names them. */
function stateIdsOf(root: string, value: unknown): string[] {
  if (typeof value === 'string') return [root, `${root}.${value}`]
  const out = [root]
  for (const [key, sub] of Object.entries(value as Record<string, unknown>)) {
    out.push(...stateIdsOf(`${root}.${key}`, sub))
  }
  return [...new Set(out)]
}

describeWithChromium('lifecycle viewer in Chromium on a database written by the demo', () => {
  let view: LoopbackPage | undefined
  let viewer: RunningServerCommand | undefined
  let url: string
  let pid = ''
  let events: readonly EventEnvelope[] = []

  beforeAll(async () => {
    // A payment window longer than the run, so no order is cancelled by the clock while the demo writes.
    const summary = await runDemo({
      dbPath: path.join(dir, 'shop.db'),
      orders: 60,
      quiet: true,
      paymentWindowMs: 600_000,
    })
    expect(summary.commands.unexpected).toEqual([])

    // The demo's own journal picks the order: the first one that went all the way to the doorstep.
    const sqlite = await openSqlite(summary.dbPath)
    try {
      for (let n = summary.orders.first; n <= summary.orders.last && !pid; n++) {
        const candidate = `order|o-${String(n).padStart(6, '0')}`
        const stream = await sqlite.journal.readByPersistenceId(candidate, 1, 100, 100)
        if (stream.at(-1)?.type === 'delivered') {
          pid = candidate
          events = stream
        }
      }
    } finally {
      await sqlite.close()
    }
    expect(events.map((e) => e.type)).toEqual([
      'placed',
      'paymentConfirmed',
      'packingStarted',
      'shipped',
      'delivered',
    ])

    // The viewer started exactly the way the demo tells its user to: the printed command, run from the
    // demo package (where `pnpm --filter @statesource/demo exec` runs it), on a free port.
    expect(summary.viewerCommand.startsWith(PRINTED_PREFIX)).toBe(true)
    const args = summary.viewerCommand.slice(PRINTED_PREFIX.length).split(' ')
    expect(args).toEqual(['view', summary.dbPath, '--aggregates', 'src/aggregates.ts'])
    viewer = await startServerCommand((hooks) =>
      runCli([...args, '--port', '0'], {
        cwd: DEMO_PACKAGE,
        out: () => {},
        err: (line) => console.error(line),
        ...hooks,
      }),
    )
    url = viewer.url
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    // A missing browser fails the test itself (below), so CI counts it as a failure rather than a skip.
    if (chromiumMissing()) return
    // No network but loopback, and nothing but the viewer: any other request would mean a CDN or a leak.
    view = await openLoopbackPage({ origin: url })
  })

  afterAll(async () => {
    await view?.browser.close()
    if (viewer) expect(await viewer.stop()).toBe(0)
    rmSync(dir, { recursive: true, force: true })
  })

  it('lists the three aggregate types, opens an order and highlights its replayed state as the scrubber moves', async () => {
    const missing = chromiumMissing()
    if (missing) throw new Error(missing)
    const { page, outside } = view!
    await page.goto(url)
    await page.waitForSelector('body[data-loaded="true"]')
    const types = await page
      .locator('#types button')
      .evaluateAll((buttons) => buttons.map((b) => ({ type: b.dataset.type, label: b.textContent })))
    expect(types.map((t) => t.type).sort()).toEqual(['order', 'payment', 'shipment'])
    expect(types.find((t) => t.type === 'order')?.label).toBe('order · 60')

    const id = pid.slice('order|'.length)
    await page.fill('#search', id)
    await page.waitForFunction(() => document.querySelectorAll('#streams .item[data-pid]').length === 1)
    await page.click(`#streams .item[data-pid="${pid}"]`)
    await page.waitForSelector('#chart[data-ready="true"] svg')
    expect(await page.textContent('#position')).toBe('event 5 of 5 · delivered')
    const mermaidIds: Record<string, string> = await page.evaluate(
      () => window.statesourceViewer.aggregate.chart.stateIds,
    )

    const activeAt = async (position: number) => {
      await page.fill('#scrubber', String(position))
      await page.waitForFunction(
        (p) => document.getElementById('position')!.textContent!.startsWith(`event ${p} of`),
        position,
      )
      return {
        states: (await page.getAttribute('#chart', 'data-active-states'))!.split(','),
        highlighted: await page
          .locator('#chart g.ss-active')
          .evaluateAll((groups) => groups.map((g) => g.id as string)),
        context: JSON.parse((await page.textContent('#state'))!).context,
      }
    }
    // What the gateway would recover after the first n events: core's strict replay fold over the journal.
    const replayed = (n: number) => foldEvents(order, undefined, order.runtime.initial(), events.slice(0, n))

    const paid = await activeAt(2)
    const shipped = await activeAt(4)
    expect(paid.states).toEqual(stateIdsOf('order', replayed(2).value))
    expect(shipped.states).toEqual(stateIdsOf('order', replayed(4).value))
    expect(paid.states).toEqual(['order', 'order.placed', 'order.placed.paid'])
    expect(shipped.states).toEqual(['order', 'order.fulfilment', 'order.fulfilment.shipped'])
    // One highlighted leaf each, drawn on the chart node of the replayed leaf state.
    expect(paid.highlighted).toHaveLength(1)
    expect(paid.highlighted[0]).toMatch(new RegExp(`-state-${mermaidIds['order.placed.paid']}(-\\d+)?$`))
    expect(shipped.highlighted).toHaveLength(1)
    expect(shipped.highlighted[0]).toMatch(
      new RegExp(`-state-${mermaidIds['order.fulfilment.shipped']}(-\\d+)?$`),
    )
    // The nested parents are marked too, and the context is the replayed one.
    expect(await page.locator('#chart g.ss-active-parent').count()).toBe(1)
    expect(shipped.context).toEqual(JSON.parse(JSON.stringify(replayed(4).context)))
    expect(shipped.context.shipmentId).toBe((events[3]!.payload as { shipmentId: string }).shipmentId)
    expect(await page.textContent('#event')).toContain('"type": "shipped"')

    const shot = await saveScreenshot(page, 'viewer-demo.png')
    expect(outside).toEqual([])
    if (process.env.UPDATE_DOCS_SCREENSHOT) {
      copyFileSync(shot, fileURLToPath(new URL('../../docs/images/viewer-demo.png', import.meta.url)))
    }
  })
})
