import { request } from 'node:http'
import { createInMemoryJournal, defineAggregate } from '@statesource/core'
import { appendRequest, newEvent } from '@statesource/core/testing'
import { describeWithChromium, type LoopbackPage, openLoopbackPage } from '@statesource/test-support/browser'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { setup } from 'xstate'
import { startViewer, type Viewer } from '../src/index.ts'
import { order } from './fixtures.ts'

// Functions passed to page.evaluate run in the page; the package's TypeScript has no DOM types.
declare const document: any
declare const window: any

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** GET with any Host header (fetch does not let a caller set it). */
function get(
  url: string,
  host: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function viewerWith(events: { pid: string; count: number; payload?: unknown }[], options = {}) {
  const journal = createInMemoryJournal()
  for (const { pid, count, payload } of events) {
    const [outcome] = await journal.append([
      appendRequest(
        pid,
        Array.from({ length: count }, (_, i) =>
          newEvent('itemAdded', payload ?? { sku: `card-${i}`, price: 1 }),
        ),
      ),
    ])
    expect(outcome?.ok).toBe(true)
  }
  const viewer = await startViewer({ source: journal, aggregates: [order], ...options })
  cleanups.push(() => viewer.close())
  return viewer
}

describe('viewer server: requests from other sites', () => {
  it('answers 421 to a Host that is not a loopback name with its port (DNS rebinding), on every route', async () => {
    const viewer = await viewerWith([{ pid: 'order|o-1', count: 1 }])
    const { port } = new URL(viewer.url)
    for (const path of ['/', '/api/streams', '/api/steps?pid=order%7Co-1', '/assets/viewer.js']) {
      const url = new URL(path, viewer.url).href
      for (const host of [
        `evil.example:${port}`,
        `evil.example`,
        `127.0.0.1:${Number(port) + 1}`,
        `10.0.0.1:${port}`,
      ]) {
        const answer = await get(url, host)
        expect(answer.status, `${host} ${path}`).toBe(421)
        expect(answer.body).not.toContain('o-1')
      }
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `127.0.0.2:${port}`]) {
        expect((await get(url, host)).status, `${host} ${path}`).toBe(200)
      }
    }
  })

  it('sends a Content-Security-Policy with every answer', async () => {
    const viewer = await viewerWith([{ pid: 'order|o-1', count: 1 }])
    for (const path of ['/', '/assets/viewer.js', '/assets/mermaid.min.js', '/api/streams', '/nope']) {
      const res = await fetch(new URL(path, viewer.url))
      const policy = res.headers.get('content-security-policy') ?? ''
      expect(policy.startsWith("default-src 'self'; script-src 'self';"), path).toBe(true)
      expect(policy).toContain("frame-ancestors 'none'")
      await res.arrayBuffer()
    }
  })
})

describe('viewer server: pages by bytes', () => {
  it('cuts a page of large events at pageBytes and says where the rest starts', async () => {
    const payload = { blob: 'b'.repeat(300_000) }
    const viewer = await viewerWith([{ pid: 'order|big', count: 10, payload }], { pageBytes: 1_000_000 })
    const steps = async (from: number) =>
      (await (await fetch(new URL(`api/steps?pid=order%7Cbig&from=${from}`, viewer.url))).json()) as {
        steps: { seqNr: number }[]
        next?: number
      }
    const first = await steps(1)
    expect(first.steps.map((s) => s.seqNr)).toEqual([1, 2, 3])
    expect(first.next).toBe(4)
    const last = await steps(10)
    expect(last.steps.map((s) => s.seqNr)).toEqual([10])
    expect(last.next).toBeUndefined()
    // One event larger than pageBytes still comes, alone.
    const tight = await viewerWith([{ pid: 'order|big', count: 2, payload }], { pageBytes: 1_000 })
    const alone = (await (await fetch(new URL('api/steps?pid=order%7Cbig&from=1', tight.url))).json()) as any
    expect([alone.steps.length, alone.next]).toEqual([1, 2])
    await expect(viewerWith([], { pageBytes: 0 })).rejects.toThrow(
      'pageBytes must be a positive integer, got 0.',
    )
  })
})

const EVIL = '<img src=x onerror=pwned=1>'

/** An aggregate whose state is named like an HTML element with a script in it. */
const evil = defineAggregate({
  type: 'evil',
  machine: setup({ types: { events: {} as { type: 'renamed' } } }).createMachine({
    id: 'evil',
    initial: 'draft',
    states: { draft: { on: { renamed: EVIL } }, [EVIL]: {} },
  }),
  commands: { rename: () => ({ type: 'renamed' as const }) },
})

describeWithChromium('lifecycle viewer in Chromium: hostile charts and the policy', () => {
  let view: LoopbackPage
  let viewer: Viewer
  beforeAll(async () => {
    const journal = createInMemoryJournal()
    await journal.append([appendRequest('evil|e-1', [newEvent('renamed')])])
    await journal.append([
      appendRequest('order|o-1', [newEvent('itemAdded', { sku: 'tea', price: 3 }), newEvent('submitted')]),
    ])
    viewer = await startViewer({ source: journal, aggregates: [evil, order], pageSize: 2, pageBytes: 200 })
    view = await openLoopbackPage({ origin: viewer.url })
  })
  afterAll(async () => {
    await view?.browser.close()
    await viewer?.close()
  })

  it('draws a state named like an <img> as text, fetches nothing for it, and breaks no policy rule', async () => {
    const { page, outside } = view
    const requests: string[] = []
    const violations: string[] = []
    page.on('request', (r) => requests.push(new URL(r.url()).pathname))
    const stepRequests: string[] = []
    page.on('request', (r) => {
      const url = new URL(r.url())
      if (url.pathname === '/api/steps' && url.searchParams.get('pid') === 'order|o-1')
        stepRequests.push(url.searchParams.get('from') ?? '')
    })
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text())
    })
    const response = await page.goto(`${viewer.url}#pid=evil%7Ce-1&seq=1`)
    await page.waitForSelector('#chart[data-ready="true"] svg')
    expect(await page.getAttribute('#chart', 'data-active-states')).toBe(`evil,evil.${EVIL}`)
    expect(await page.locator('#chart img').count()).toBe(0)
    expect(await page.locator('#chart foreignObject').count()).toBe(0)
    // The name is drawn as SVG text (Mermaid's sanitizer drops the handler from the text it shows).
    const label = await page.textContent('#chart g[id*="-state-s_evil___img"] text')
    expect(label).toContain('<img src=')
    expect(await page.evaluate(() => window.pwned)).toBeUndefined()
    expect(requests.filter((p) => p.endsWith('/x'))).toEqual([])
    expect(response?.headers()['content-security-policy']).toContain("default-src 'self'")

    // Pages cut by bytes (200 here) load in parts; the scrubber still finds every event.
    await page.goto('about:blank')
    await page.goto(`${viewer.url}#pid=order%7Co-1&seq=2`)
    await page.waitForFunction(() =>
      document.getElementById('position')?.textContent?.startsWith('event 2 of 2'),
    )
    expect(await page.textContent('#event')).toContain('submitted')
    // Events 1 and 2 form one page of 2, which the server cut in two parts of one event each: the page
    // loaded the part from 1, then the rest from 2, and holds both.
    expect(stepRequests).toEqual(['1', '2'])
    expect(
      await page.evaluate(() =>
        window.statesourceViewer.pages.get(0)?.settled?.map((s: { seqNr: number }) => s.seqNr),
      ),
    ).toEqual([1, 2])
    await page.fill('#scrubber', '1')
    await page.waitForFunction(() =>
      document.getElementById('position')?.textContent?.startsWith('event 1 of 2'),
    )
    expect(await page.textContent('#event')).toContain('tea')
    // Mermaid parses label text as HTML while it sanitizes and measures it; there the policy blocks the
    // handler. Nothing else breaks the policy: Mermaid and the page run under it.
    expect(violations.filter((v) => !v.startsWith('Executing inline event handler'))).toEqual([])
    expect(outside).toEqual([])
  })

  it('cannot be framed by another site', async () => {
    const res = await fetch(viewer.url)
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    await res.text()
  })
})
