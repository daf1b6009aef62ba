import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CHROMIUM_PATH,
  chromiumMissing,
  type LoopbackPage,
  openLoopbackPage,
  saveScreenshot,
} from './browser.ts'

describe('chromiumMissing', () => {
  it('explains how to install Chromium when the binary is absent, and is silent when it is there', () => {
    expect(chromiumMissing('/nonexistent/chromium')).toMatch(
      /not installed at \/nonexistent\/chromium.*apt-get install -y chromium.*CHROMIUM_PATH/,
    )
    expect(chromiumMissing(process.execPath)).toBeUndefined()
  })
})

describe('openLoopbackPage', () => {
  let server: Server
  let origin: string
  let opened: LoopbackPage | undefined

  beforeAll(async () => {
    // A page that loads one script from loopback and tries two hosts beyond it.
    server = createServer((request, response) => {
      if (request.url === '/local.js') {
        response
          .writeHead(200, { 'content-type': 'text/javascript' })
          .end('document.body.dataset.local = "yes"')
        return
      }
      response.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><body>
        <script src="/local.js"></script>
        <script src="https://cdn.example/lib.js"></script>
        <img src="http://127.0.0.1.example/pixel.png">
      </body>`)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  })

  afterAll(async () => {
    await opened?.browser.close()
    await new Promise((resolve) => server.close(resolve))
  })

  it('serves loopback, aborts and records every other host, and saves a PNG screenshot', async () => {
    const missing = chromiumMissing()
    if (missing) throw new Error(missing)
    opened = await openLoopbackPage({ origin, executablePath: CHROMIUM_PATH })
    const { page, outside } = opened
    await page.goto(origin)
    await page.waitForFunction(() => (globalThis as { document?: any }).document.body.dataset.local === 'yes')
    await expect
      .poll(() => [...outside].sort())
      .toEqual(['http://127.0.0.1.example/pixel.png', 'https://cdn.example/lib.js'])
    const shot = await saveScreenshot(page, 'test-support-loopback.png')
    expect(shot).toMatch(/test-artifacts\/test-support-loopback\.png$/)
  })
})
