import { copyFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { CqrsPattern } from '@statesource/core'
import { openSqlite, type StatesourceSqlite } from '@statesource/sqlite'
import { type LoopbackPage, openLoopbackPage, saveScreenshot } from '@statesource/test-support/browser'
import { type RunningServerCommand, startServerCommand } from '@statesource/test-support/server-command'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../src/index.ts'
import { order, tempDir } from './fixtures.ts'

// Functions passed to page.evaluate run in the page; the package's TypeScript has no DOM types.
declare const document: any
declare const window: any

/** Writes the database the way an app does: a CQRS instance over the SQLite journal. */
async function writeDemoDatabase(file: string): Promise<void> {
  const sqlite: StatesourceSqlite = await openSqlite(file)
  const handles = await CqrsPattern.builder({ journal: sqlite.journal })
    .withAggregate(order)
    .build()
    .materialize()
  const orders = handles.repository(order)
  await orders.send('o-1001', { type: 'addItem', sku: 'green-tea', price: 12 })
  await orders.send('o-1001', { type: 'addItem', sku: 'teapot', price: 35 })
  await orders.send('o-1001', { type: 'submit' }, { metadata: { userId: 'ada' } })
  await orders.send('o-1001', { type: 'failPayment', reason: 'card declined' })
  await orders.send('o-1001', { type: 'retryPayment' })
  await orders.send('o-1001', { type: 'pack' })
  await orders.send('o-1001', { type: 'authorizePayment', reference: 'pay-77' })
  await orders.send('o-1001', { type: 'ship', carrier: 'dhl' })
  for (let i = 2; i <= 12; i++) {
    await orders.send(`o-${1000 + i}`, { type: 'addItem', sku: `sku-${i}`, price: i })
    if (i % 2 === 0) await orders.send(`o-${1000 + i}`, { type: 'submit' })
  }
  await handles.stop()
  await sqlite.close()
}

describe('lifecycle viewer in Chromium', () => {
  let view: LoopbackPage | undefined
  let viewer: RunningServerCommand | undefined
  let url: string

  beforeAll(async () => {
    const db = join(tempDir(), 'demo.db')
    await writeDemoDatabase(db)
    // Through the CLI, as a user runs it: statesource view demo.db --aggregates fixtures.ts --port 0
    const fixtures = join(import.meta.dirname, 'fixtures.ts')
    viewer = await startServerCommand((hooks) =>
      runCli(['view', db, '--aggregates', fixtures, '--port', '0', '--page-size', '3'], {
        out: () => {},
        err: (line) => console.error(line),
        ...hooks,
      }),
    )
    url = viewer.url
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    // No network but loopback, and nothing but the viewer: any other request would mean a CDN or a leak.
    view = await openLoopbackPage({ origin: url })
  })

  afterAll(async () => {
    await view?.browser.close()
    if (viewer) expect(await viewer.stop()).toBe(0)
  })

  it('loads, opens an aggregate, and highlights other states as the scrubber moves', async () => {
    const { page, outside } = view!
    await page.goto(url)
    await page.waitForSelector('body[data-loaded="true"]')
    expect(await page.locator('#streams li').count()).toBe(12)

    await page.fill('#search', '1001')
    await page.waitForFunction(() => document.querySelectorAll('#streams li').length === 1)
    await page.click('li[data-pid="order|o-1001"]')
    await page.waitForSelector('#chart[data-ready="true"] svg')
    expect(await page.textContent('#position')).toContain('event 8 of 8 · shipped')
    expect(await page.getAttribute('#chart', 'data-active-states')).toBe('order,order.completed')

    const activeAt = async (position: number) => {
      await page.fill('#scrubber', String(position))
      await page.waitForFunction(
        (p) => document.getElementById('position')!.textContent!.startsWith(`event ${p} of`),
        position,
      )
      return {
        states: await page.getAttribute('#chart', 'data-active-states'),
        highlighted: await page.locator('#chart g.ss-active').count(),
      }
    }
    const atDraft = await activeAt(2)
    expect(atDraft.states).toBe('order,order.draft')
    const atFailed = await activeAt(4)
    expect(atFailed.states).toBe(
      'order,order.checkout,order.checkout.payment,order.checkout.payment.failed,order.checkout.shipping,order.checkout.shipping.packing',
    )
    // Both parallel regions have a highlighted leaf, and the leaves differ from the draft step's.
    expect(atFailed.highlighted).toBe(2)
    expect(atDraft.highlighted).toBe(1)
    expect(await page.locator('#chart g.ss-active').first().getAttribute('id')).toContain(
      's_order__checkout__payment__failed',
    )
    expect(await page.textContent('#event')).toContain('card declined')

    await page.click('#next')
    await page.waitForFunction(() =>
      document.getElementById('position')!.textContent!.startsWith('event 5 of'),
    )
    expect(await page.getAttribute('#chart', 'data-active-states')).toContain(
      'order.checkout.payment.awaiting',
    )

    await activeAt(3)
    expect(await page.textContent('#metadata')).toContain('"userId": "ada"')
    expect(await page.textContent('#state')).toContain('"total": 47')
    // Events come in pages of 3: position 3 is on the first page, 4 and 5 on the second.
    expect(await page.evaluate(() => (window as any).statesourceViewer.pages.size)).toBe(3)

    await activeAt(6)
    const shot = await saveScreenshot(page, 'viewer.png')
    expect(outside).toEqual([])
    if (process.env.UPDATE_DOCS_SCREENSHOT) {
      copyFileSync(shot, resolve(import.meta.dirname, '../../../docs/images/viewer.png'))
    }
  })
})
