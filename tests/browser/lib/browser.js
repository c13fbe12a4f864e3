// Debian's chromium driven by playwright-core: a phone-sized persistent profile (so a test can
// restart the browser and keep its storage), screenshots into screenshots/, and an axe-core check.

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
/** Tyresö centrum. */
const HOME = { latitude: 59.2441, longitude: 18.2279, accuracy: 12 }

/** A phone: a persistent browser profile that can be closed and opened again. */
class Phone {
  constructor({ locale = 'sv-SE' } = {}) {
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
      locale: this.locale,
      timezoneId: 'Europe/Stockholm',
      geolocation: HOME,
      permissions: ['geolocation'],
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
  async checkAccessibility(screen) {
    const page = this.page
    if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE_SOURCE)
    const result = await page.evaluate(() =>
      window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }),
    )
    const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    const describe = serious.map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('\n  ')}`)
    assert.deepEqual(describe, [], `accessibility violations on ${screen}`)
  }
}

module.exports = { Phone, HOME, PHONE, SCREENSHOTS }
