// Debian's chromium driven by playwright-core: a phone-sized persistent profile (so a test can
// restart the browser and keep its storage), a laptop for the dashboard, screenshots into
// screenshots/, and an axe-core check.

'use strict'

const { chromium } = require('playwright-core')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const assert = require('node:assert/strict')

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const SCREENSHOTS = path.join(__dirname, '..', 'screenshots')
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')

// Headless, as root, on a machine whose only network is loopback.
const FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-default-apps',
]

const PHONE = { width: 390, height: 844 }
/** What a phone with Chrome on Android says it is, so the app and the server see a phone. */
const ANDROID_CHROME = 'Mozilla/5.0 (Linux; Android 14; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36'
/** Tyresö centrum. */
const HOME = { latitude: 59.2441, longitude: 18.2279, accuracy: 12 }

/** A phone: a persistent browser profile that can be closed and opened again. */
class Phone {
  /** `geolocation: false`: a phone whose user declined location access (or that has no GPS). */
  constructor({ locale = 'sv-SE', geolocation = true } = {}) {
    this.geolocation = geolocation
    this.profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lagesbild-profile-'))
    this.locale = locale
    this.context = null
    this.page = null
  }

  async open() {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install chromium`)
    this.context = await chromium.launchPersistentContext(this.profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: PHONE,
      deviceScaleFactor: 1,
      isMobile: true,
      hasTouch: true,
      userAgent: ANDROID_CHROME,
      locale: this.locale,
      timezoneId: 'Europe/Stockholm',
      ...(this.geolocation ? { geolocation: HOME, permissions: ['geolocation'] } : { permissions: [] }),
      serviceWorkers: 'allow',
    })
    this.page = this.context.pages()[0] ?? (await this.context.newPage())
    this.page.setDefaultTimeout(15_000)
    this.errors = []
    this.page.on('pageerror', (error) => this.errors.push(error.message))
    return this.page
  }

  async close() {
    if (this.context) await this.context.close()
    this.context = null
  }

  async dispose() {
    await this.close()
    fs.rmSync(this.profile, { recursive: true, force: true })
  }

  /** A full-page screenshot at phone size into screenshots/NAME.png. */
  async screenshot(name, { scroll = null } = {}) {
    fs.mkdirSync(SCREENSHOTS, { recursive: true })
    if (scroll) await this.page.evaluate((to) => window.scrollTo(0, to === 'top' ? 0 : document.body.scrollHeight), scroll)
    await this.page.waitForTimeout(400) // let the toast and transitions settle
    await this.page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: false })
  }

  /** Runs axe-core on the page; fails on any serious or critical violation. */
  checkAccessibility(screen) {
    return checkAccessibility(this.page, screen)
  }
}

/** Runs axe-core on a page; fails on any serious or critical violation. */
async function checkAccessibility(page, screen) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE_SOURCE)
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }),
  )
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  const describe = serious.map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('\n  ')}`)
  assert.deepEqual(describe, [], `accessibility violations on ${screen}`)
}

const DESKTOP = { width: 1280, height: 800 }

/**
 * A laptop: a fresh browser context at 1280×800 (switchable to phone size), which accepts
 * downloads; for the coordinator dashboard.
 */
class Desk {
  constructor({ locale = 'sv-SE' } = {}) {
    this.locale = locale
    this.browser = null
    this.context = null
    this.page = null
  }

  async open() {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install chromium`)
    this.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS })
    this.context = await this.browser.newContext({
      viewport: DESKTOP,
      deviceScaleFactor: 1,
      locale: this.locale,
      timezoneId: 'Europe/Stockholm',
      acceptDownloads: true,
    })
    this.page = await this.context.newPage()
    this.page.setDefaultTimeout(15_000)
    this.errors = []
    this.page.on('pageerror', (error) => this.errors.push(error.message))
    return this.page
  }

  /** Switches between `desktop` (1280×800) and `phone` (390×844). */
  async size(kind) {
    await this.page.setViewportSize(kind === 'phone' ? PHONE : DESKTOP)
  }

  async close() {
    if (this.browser) await this.browser.close()
    this.browser = null
  }

  /** A screenshot of the viewport into screenshots/NAME.png. */
  async screenshot(name, { fullPage = false } = {}) {
    fs.mkdirSync(SCREENSHOTS, { recursive: true })
    await this.page.waitForTimeout(300)
    await this.page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage })
  }

  checkAccessibility(screen) {
    return checkAccessibility(this.page, screen)
  }
}

module.exports = { Phone, Desk, HOME, PHONE, DESKTOP, SCREENSHOTS, checkAccessibility }
