import { copyFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { CqrsPattern } from '@statesource/core'
import { openSqlite, type StatesourceSqlite } from '@statesource/sqlite'
import {
  describeWithChromium,
  type LoopbackPage,
  openLoopbackPage,
  saveScreenshot,
} from '@statesource/test-support/browser'
import { type RunningServerCommand, startServerCommand } from '@statesource/test-support/server-command'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { runCli, startViewer, type Viewer } from '../src/index.ts'
import { brokenOrder } from './broken-order.ts'
import { order, tempDir } from './fixtures.ts'

// Functions passed to page.evaluate run in the page; the package's TypeScript has no DOM types.
declare const document: any
declare const window: any
declare const location: any

const BULK = 1_000

/** Writes the database the way an app does (a CQRS instance over the SQLite journal), plus 1,000 small streams. */
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
  // Many streams, created in an order that is not the natural one (b-1000 first).
  await sqlite.journal.append(
    Array.from({ length: BULK }, (_, i) => ({
      persistenceId: `order|b-${BULK - i}`,
      expectedSeqNr: 0,
      events: [{ type: 'itemAdded', version: 1, payload: { sku: 'x', price: 1 }, tags: [], metadata: {} }],
    })),
  )
  await sqlite.close()
}

type Page = LoopbackPage['page']

async function waitForPosition(page: Page, position: number) {
  await page.waitForFunction((p: number) => document.body.dataset.position === String(p), position)
}

async function rowsOf(page: Page, list: string): Promise<string[]> {
  return page.$$eval(`#${list} .item`, (rows: any[]) =>
    rows
      .sort((a: any, b: any) => Number(a.dataset.index) - Number(b.dataset.index))
      .map((r: any) => r.dataset.pid ?? r.textContent),
  )
}

describeWithChromium('lifecycle viewer in Chromium', () => {
  let view: LoopbackPage | undefined
  let viewer: RunningServerCommand | undefined
  let broken: Viewer | undefined
  let sqlite: StatesourceSqlite | undefined
  let url = ''

  beforeAll(async () => {
    const db = join(tempDir(), 'demo.db')
    await writeDemoDatabase(db)
    // The viewer as a user runs it: statesource view demo.db --aggregates fixtures.ts --port 0
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
    // The same history seen through a chart that no longer takes "paymentRetried".
    sqlite = await openSqlite(db)
    broken = await startViewer({ source: sqlite.journal, aggregates: [brokenOrder] })
    // No network but loopback: any other request would mean a CDN or a leak.
    view = await openLoopbackPage()
  })

  afterAll(async () => {
    await view?.browser.close()
    await broken?.close()
    await sqlite?.close()
    if (viewer) expect(await viewer.stop()).toBe(0)
  })

  it('lists every stream in natural order, with counts, loading more as the list scrolls', async () => {
    const { page, outside } = view!
    await page.goto(url)
    await page.waitForSelector('body[data-loaded="true"]')
    expect(await page.textContent('#count')).toBe('1,012 aggregates')
    expect(await page.textContent('#types button')).toBe('order · 1,012')
    const first = await rowsOf(page, 'streams')
    expect(first.slice(0, 11)).toEqual([
      'order|b-1',
      'order|b-2',
      'order|b-3',
      'order|b-4',
      'order|b-5',
      'order|b-6',
      'order|b-7',
      'order|b-8',
      'order|b-9',
      'order|b-10',
      'order|b-11',
    ])
    // The end of the list is reachable, though one request returns 200 streams.
    await page.$eval('#streams', (list: any) => {
      list.scrollTop = list.scrollHeight
    })
    await page.waitForSelector('#streams .item[data-pid="order|o-1012"]')
    const last = await rowsOf(page, 'streams')
    expect(last.at(-1)).toBe('order|o-1012')
    expect(last).toContain('order|b-1000')
    expect(last.indexOf('order|b-1000')).toBeLessThan(last.indexOf('order|o-1001'))
    expect(outside).toEqual([])
  })

  it('selects and scrolls to a deep-linked aggregate, and follows the URL hash both ways', async () => {
    const { page } = view!
    await page.goto(`${url}#pid=order%7Cb-731&seq=1`)
    await page.waitForSelector('body[data-loaded="true"]')
    await page.waitForSelector('#streams .item.selected[data-pid="order|b-731"]')
    const visible = await page.$eval('#streams .item.selected', (row: any) => {
      const list = row.parentElement.getBoundingClientRect()
      const box = row.getBoundingClientRect()
      return box.top >= list.top && box.bottom <= list.bottom
    })
    expect(visible).toBe(true)
    expect(await page.textContent('#pid')).toBe('order|b-731')

    // Changing the hash in the open tab moves the viewer: another aggregate, then another position.
    await page.evaluate(() => {
      location.hash = '#pid=order%7Co-1001&seq=4'
    })
    await waitForPosition(page, 4)
    expect(await page.textContent('#pid')).toBe('order|o-1001')
    expect(await page.getAttribute('#chart', 'data-active-states')).toContain('order.checkout.payment.failed')
    await page.waitForSelector('#streams .item.selected[data-pid="order|o-1001"]')
    await page.evaluate(() => {
      location.hash = '#pid=order%7Co-1001&seq=2'
    })
    await waitForPosition(page, 2)
    // And the viewer writes its position back.
    await page.click('#next')
    await waitForPosition(page, 3)
    expect(await page.evaluate(() => location.hash)).toBe('#pid=order%7Co-1001&seq=3')
  })

  it('shows the timeline beside the chart, highlights the transition taken and diffs the context', async () => {
    const { page, outside } = view!
    await page.goto(`${url}#pid=order%7Co-1001&seq=8`)
    await page.waitForSelector('#chart[data-ready="true"] svg')
    await waitForPosition(page, 8)
    expect(await page.textContent('#position')).toBe('event 8 of 8 · shipped')

    // The timeline: seq, type, time, the state after; beside (right of) the chart.
    const rows = await page.$$eval('#timeline .item', (items) =>
      items.map((r: any) => [...r.querySelectorAll('span')].map((s: any) => s.textContent)),
    )
    expect(rows.map((r) => r.slice(0, 2))).toEqual([
      ['1', 'itemAdded'],
      ['2', 'itemAdded'],
      ['3', 'submitted'],
      ['4', 'paymentFailed'],
      ['5', 'paymentRetried'],
      ['6', 'packed'],
      ['7', 'paymentAuthorized'],
      ['8', 'shipped'],
    ])
    expect(rows[0]![2]).toMatch(/^\d\d:\d\d:\d\d$/)
    expect(rows[3]![3]).toBe('checkout.payment.failed, checkout.shipping.packing')
    const chartBox = (await page.locator('#chart-pane').boundingBox())!
    const timelineBox = (await page.locator('#timeline-pane').boundingBox())!
    expect(timelineBox.x).toBeGreaterThan(chartBox.x + chartBox.width - 1)

    // Clicking an event moves there; its transition is highlighted on the chart.
    await page.click('#timeline .item[data-seq="4"]')
    await waitForPosition(page, 4)
    expect(await page.getAttribute('#timeline .item[data-seq="4"]', 'class')).toContain('current')
    expect(await page.getAttribute('#chart', 'data-taken')).toBe('1')
    const edges = await page.evaluate(() => window.statesourceViewer.aggregate.chart.edges)
    const taken = Number(await page.getAttribute('#chart', 'data-transitions'))
    expect(edges[taken]).toEqual({
      from: 'order.checkout.payment.awaiting',
      to: 'order.checkout.payment.failed',
      eventType: 'paymentFailed',
    })
    expect(await page.textContent('#chart g.edgeLabel.ss-taken')).toBe('paymentFailed')

    // The context as a diff against the step before, the full context one click away.
    expect(await page.textContent('#diff')).toBe('attempts: 0 → 1')
    await page.click('#timeline .item[data-seq="2"]')
    await waitForPosition(page, 2)
    expect(await page.$$eval('#diff li', (items) => items.map((i: any) => i.textContent))).toEqual([
      'items: 1 → 2',
      'total: 12 → 47',
    ])
    expect(await page.isVisible('#state')).toBe(false)
    await page.click('#context-toggle')
    await page.waitForSelector('#state', { state: 'visible' })
    expect(JSON.parse((await page.textContent('#state'))!).context).toEqual({
      items: 2,
      total: 47,
      attempts: 0,
    })
    await page.click('#context-toggle')
    await page.waitForSelector('#diff', { state: 'visible' })
    expect(await page.textContent('#metadata')).toContain('"correlationId"')

    // A chart big enough to read, and zoom.
    const labelHeight = await page.$eval('#chart g.edgeLabel', (g: any) => g.getBoundingClientRect().height)
    expect(labelHeight).toBeGreaterThanOrEqual(14)
    const before = (await page.locator('#chart svg').boundingBox())!.width
    await page.click('#zoom-in')
    expect((await page.locator('#chart svg').boundingBox())!.width).toBeGreaterThan(before * 1.2)
    await page.click('#zoom-out')

    await page.click('#timeline .item[data-seq="4"]')
    await waitForPosition(page, 4)
    const shot = await saveScreenshot(page, 'viewer.png')
    expect(outside).toEqual([])
    if (process.env.UPDATE_DOCS_SCREENSHOT) {
      copyFileSync(shot, resolve(import.meta.dirname, '../../../docs/images/viewer.png'))
    }
  })

  it('marks the events after a refused one "not checked" rather than refused', async () => {
    const { page } = view!
    await page.goto(`${broken!.url}#pid=order%7Co-1001&seq=6`)
    await waitForPosition(page, 6)
    expect(await page.textContent('#check')).toBe(
      'Not checked: event 5 of this stream was refused, so the state this event met is unknown. The chart shows the state before event 5.',
    )
    const marks = await page.$$eval('#timeline .item', (items) =>
      items.map((r: any) => [
        r.dataset.seq,
        r.className.replace('item', '').replace('current', '').trim(),
        r.lastChild.textContent,
      ]),
    )
    expect(marks.slice(3)).toEqual([
      ['4', '', 'checkout.payment.failed, checkout.shipping.packing'],
      ['5', 'refused', 'refused'],
      ['6', 'not-checked', 'not checked'],
      ['7', 'not-checked', 'not checked'],
      ['8', 'not-checked', 'not checked'],
    ])
    await page.click('#timeline .item[data-seq="5"]')
    await waitForPosition(page, 5)
    expect(await page.textContent('#check')).toContain(
      'Refused: Stored event 5 ("paymentRetried") of "order|o-1001" is not accepted',
    )
    const shot = await saveScreenshot(page, 'viewer-refused.png')
    if (process.env.UPDATE_DOCS_SCREENSHOT) {
      copyFileSync(shot, resolve(import.meta.dirname, '../../../docs/images/viewer-refused.png'))
    }
  })
})
