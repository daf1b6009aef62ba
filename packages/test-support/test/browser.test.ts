import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  browserTestsSkipped,
  chromiumMissing,
  describeWithChromium,
  type LoopbackPage,
  openLoopbackPage,
  saveScreenshot,
} from '../src/browser.ts'

describe('chromiumMissing', () => {
  it('explains how to install Chromium when the binary is absent, and is silent when it is there', () => {
    expect(chromiumMissing('/nonexistent/chromium')).toMatch(
      /not installed at \/nonexistent\/chromium.*apt-get install -y chromium.*CHROMIUM_PATH/,
    )
    expect(chromiumMissing(process.execPath)).toBeUndefined()
  })
})

describe('browserTestsSkipped', () => {
  it('skips outside CI when Chromium is missing, with a reason that says how to enable the tests', () => {
    expect(browserTestsSkipped('/nonexistent/chromium', {})).toBe(
      'skipped: no Chromium at /nonexistent/chromium; run "apt-get install -y chromium" or set CHROMIUM_PATH to enable the browser tests',
    )
  })

  it('never skips under CI=true (a missing Chromium fails there) nor when Chromium is installed', () => {
    expect(browserTestsSkipped('/nonexistent/chromium', { CI: 'true' })).toBeUndefined()
    expect(browserTestsSkipped(process.execPath, {})).toBeUndefined()
  })
})

describeWithChromium('openLoopbackPage', () => {
  let server: Server
  let port: number
  /** Paths the server was asked for. */
  const served: string[] = []
  const opened: LoopbackPage[] = []

  beforeAll(async () => {
    // A page that loads a script from its own origin, one from `localhost` (the same server under another
    // name: it would load if the request went out) and tries two hosts beyond loopback.
    server = createServer((request, response) => {
      served.push(request.url ?? '')
      if (request.url?.endsWith('.js')) {
        response
          .writeHead(200, { 'content-type': 'text/javascript' })
          .end('document.body.dataset.local = "yes"')
        return
      }
      response.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><body>
        <script src="/local.js"></script>
        <script src="http://localhost:${port}/via-localhost.js"></script>
        <script src="http://127.0.0.1:${otherPort()}/other-port.js"></script>
        <script src="https://cdn.example/lib.js"></script>
        <img src="http://127.0.0.1.example/pixel.png">
      </body>`)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  })

  afterAll(async () => {
    for (const { browser } of opened) await browser.close()
    await new Promise((resolve) => server.close(resolve))
  })

  /** A loopback port other than the page's. */
  const otherPort = () => (port === 65_535 ? port - 1 : port + 1)

  async function load(origin?: string): Promise<LoopbackPage> {
    const missing = chromiumMissing()
    if (missing) throw new Error(missing)
    const view = await openLoopbackPage(origin === undefined ? {} : { origin })
    opened.push(view)
    await view.page.goto(`http://127.0.0.1:${port}/`)
    await view.page.waitForFunction(
      () => (globalThis as { document?: any }).document.body.dataset.local === 'yes',
    )
    return view
  }

  it('aborts and records every request beyond loopback, and saves a PNG screenshot', async () => {
    const { page, outside } = await load()
    const beyond = [
      'http://127.0.0.1.example/pixel.png',
      `http://localhost:${port}/via-localhost.js`,
      'https://cdn.example/lib.js',
    ]
    await expect.poll(() => [...outside].sort()).toEqual(beyond) // loopback on another port is not beyond
    // Aborted, not merely recorded: the server never saw the request made under the name `localhost`.
    expect(served).toContain('/local.js')
    expect(served).not.toContain('/via-localhost.js')
    const shot = await saveScreenshot(page, 'test-support-loopback.png')
    expect(shot).toMatch(/test-artifacts\/test-support-loopback\.png$/)
  })

  it('with an origin, also records loopback requests to any other port', async () => {
    // The page's origin without its trailing slash: a neighbouring port must not pass for it.
    const { outside } = await load(`http://127.0.0.1:${port}`)
    await expect.poll(() => outside.length).toBe(4)
    expect(outside).toContain(`http://127.0.0.1:${otherPort()}/other-port.js`)
    expect(outside).not.toContain(`http://127.0.0.1:${port}/local.js`)
  })
})
