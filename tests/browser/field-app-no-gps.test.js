// The field app on a phone without location access (declined, indoors, an old phone): the user
// reports by picking an area, and the server files each record under the area picked, also a
// district that has neighbourhoods inside it. Screenshots at 390×844 go to screenshots/.
//
//   cargo build && cd tests/browser && npm ci && LAGESBILD_BIN=…/debug/lagesbild node --test

'use strict'

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { startServer } = require('./lib/server')
const { Phone } = require('./lib/browser')
const { AREAS } = require('./lib/seed')
const api = require('./lib/api')
const { waitFor } = require('./lib/wait')

let server
let coordinator
let phone

before(async () => {
  server = await startServer()
  const admin = await api.login(server, 'dora', 'dora-laptop')
  await admin.post('/api/v1/areas', AREAS)
  coordinator = await api.login(server, 'carla', 'carla-laptop')
  phone = new Phone({ geolocation: false })
})

after(async () => {
  if (phone) await phone.dispose()
  if (server) await server.stop()
})

async function reportByArea(page, { area, category, note, screenshot = null }) {
  await page.goto(`${server.url}/app/#observation`)
  await page.getByText(category, { exact: true }).click()
  await page.getByRole('group', { name: 'Allvar' }).getByText('2', { exact: true }).click()
  await page.getByRole('group', { name: 'Upplevd trygghet här nu' }).getByText('3', { exact: true }).click()
  await page.getByRole('group', { name: 'Ålder (uppskattad)' }).getByText('vet ej', { exact: true }).click()
  await page.getByLabel('Anteckning').fill(note)
  // No fix comes: the app says so and offers the areas.
  await waitFor(
    async () => /nekad|Ingen position/.test(await page.locator('.position-status').textContent()),
    'the app to say there is no position',
  )
  await page.getByLabel('Välj område').selectOption({ label: area })
  if (screenshot) {
    await page.getByLabel('Välj område').scrollIntoViewIfNeeded()
    await phone.screenshot(screenshot)
    await phone.checkAccessibility('observation without location access')
  }
  await page.getByRole('button', { name: 'Spara', exact: true }).click()
}

test('without location access a field user reports by area, online and offline, fixes what the server quarantined, and each record lands in its area', async (t) => {
  const page = await phone.open()
  t.after(async () => {
    if (phone.context) await phone.screenshot('nogps-zz-last-state').catch(() => {})
  })
  const state = await page.evaluate(() => navigator.permissions.query({ name: 'geolocation' }).then((p) => p.state))
  assert.notEqual(state, 'granted', 'this phone has no location access')

  await page.goto(`${server.url}/app/`)
  await page.getByLabel('Organisation').fill(server.org)
  await page.getByLabel('Användarnamn').fill('anna')
  await page.getByLabel('Lösenord').fill(server.password)
  await page.getByRole('button', { name: 'Logga in' }).click()
  await page.getByRole('heading', { name: 'Ny observation' }).waitFor()
  // The areas come down with the first sync; every one of them is offered.
  await page.goto(`${server.url}/app/#observation`)
  const options = await waitFor(async () => {
    const labels = await page.getByLabel('Välj område').locator('option').allTextContents().catch(() => [])
    return labels.length > 1 ? labels : null
  }, 'the areas to be offered')
  assert.deepEqual(options.slice(1).sort(), AREAS.features.map((f) => f.properties.name).sort())

  // Save with fields missing: each time the message shows above the Save bar, uncovered, and the
  // first field at fault is brought into view and focused.
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight))
  const uncovered = (selector) => page.evaluate((selector) => {
    const node = document.querySelector(selector)
    const box = node.getBoundingClientRect()
    if (box.height === 0 || box.bottom <= 0 || box.top >= window.innerHeight) return false
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + Math.min(box.height / 2, 10))
    return node === hit || node.contains(hit)
  }, selector)
  for (const [fill, message, group] of [
    [null, 'Välj en kategori.', 'Kategori'],
    [() => page.getByText('Klotter', { exact: true }).click(), 'Välj allvar 1–5.', 'Allvar'],
    [() => page.getByRole('group', { name: 'Allvar' }).getByText('2', { exact: true }).click(), 'Välj upplevd trygghet 1–5.', 'Upplevd trygghet här nu'],
    [() => page.getByRole('group', { name: 'Upplevd trygghet här nu' }).getByText('3', { exact: true }).click(), 'Positionen saknas.', null],
  ]) {
    if (fill) await fill()
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight))
    await page.getByRole('button', { name: 'Spara', exact: true }).click()
    await page.getByRole('alert').filter({ hasText: message }).waitFor()
    assert.ok(await uncovered('.sticky-actions .message'), `"${message}" can be read`)
    if (group) {
      const focusedIn = await page.evaluate((name) => {
        const legend = [...document.querySelectorAll('legend')].find((l) => l.textContent.trim() === name)
        return Boolean(legend && legend.parentElement.contains(document.activeElement))
      }, group)
      assert.ok(focusedIn, `the focus is in ${group}`)
      const inView = await page.evaluate((name) => {
        const legend = [...document.querySelectorAll('legend')].find((l) => l.textContent.trim() === name)
        const box = legend.getBoundingClientRect()
        return box.top >= 0 && box.bottom <= window.innerHeight - 150
      }, group)
      assert.ok(inView, `${group} is in view, above the Save bar`)
    } else {
      assert.ok(await page.evaluate(() => document.querySelector('.position').contains(document.activeElement)), 'the focus is on the position')
    }
    if (message === 'Välj en kategori.') await phone.screenshot('nogps-00-missing-category')
  }
  // The time field, focused, is not under the Save bar.
  await page.getByLabel('Tidpunkt').focus()
  assert.ok(await uncovered('input[name="observed_at"]'), 'the time field is not covered by the Save bar')

  // A neighbourhood, and the district around it (not one of its neighbourhoods).
  await reportByArea(page, {
    area: 'Tyresö centrum', category: 'Klotter', note: 'Utan GPS: klotter i centrum', screenshot: 'nogps-01-area-picked',
  })
  await page.getByText(/Sparad/).first().waitFor()
  await reportByArea(page, { area: 'Tyresö', category: 'Nedskräpning', note: 'Utan GPS: skräp någonstans i Tyresö' })
  await page.getByText(/Sparad/).first().waitFor()

  const stored = await waitFor(async () => {
    const page1 = await coordinator.get('/api/v1/observations?limit=100')
    const ours = page1.items.filter((o) => o.note.startsWith('Utan GPS'))
    return ours.length === 2 ? ours : null
  }, 'both observations on the server')
  const areaOf = (note) => stored.find((o) => o.note.startsWith(note)).area_code
  assert.equal(areaOf('Utan GPS: klotter'), 'TC')
  assert.equal(areaOf('Utan GPS: skräp'), 'TY', 'a point inside the district but outside its neighbourhoods')
  for (const record of stored) {
    assert.ok(record.accuracy_m > 50, `an area is not a GPS fix: accuracy ${record.accuracy_m} m`)
  }

  // Offline too, as outdoors without signal: kept on the phone, sent when the network returns.
  await phone.context.setOffline(true)
  await reportByArea(page, { area: 'Trollbäcken', category: 'Klotter', note: 'Utan GPS och nät: klotter i Trollbäcken' })
  await page.locator('#sync-pill', { hasText: 'Offline · 1 väntar' }).waitFor()
  await phone.context.setOffline(false)
  await page.locator('#sync-pill', { hasText: 'Allt skickat' }).waitFor({ timeout: 30_000 })
  const offline = await waitFor(async () => {
    const items = (await coordinator.get('/api/v1/observations?limit=100')).items
    return items.find((o) => o.note.startsWith('Utan GPS och nät')) ?? null
  }, 'the offline observation on the server')
  assert.equal(offline.area_code, 'TB')

  // Without GPS a record can still need fixing: a time typed three days ahead is quarantined, and
  // the user corrects it from the outbox.
  const ahead = new Date(Date.now() + 3 * 86_400_000)
  const local = new Date(ahead.getTime() - ahead.getTimezoneOffset() * 60_000).toISOString().slice(0, 16)
  await page.goto(`${server.url}/app/#observation`)
  await page.getByText('Klotter', { exact: true }).click()
  await page.getByRole('group', { name: 'Allvar' }).getByText('2', { exact: true }).click()
  await page.getByRole('group', { name: 'Upplevd trygghet här nu' }).getByText('3', { exact: true }).click()
  await page.getByLabel('Anteckning').fill('Utan GPS: fel tid')
  await page.getByLabel('Tidpunkt').fill(local)
  await page.getByLabel('Välj område').selectOption({ label: 'Tyresö centrum' })
  await page.getByRole('button', { name: 'Spara', exact: true }).click()
  await page.goto(`${server.url}/app/#outbox`)
  const fix = page.locator('.record.state-fix')
  await fix.waitFor({ timeout: 30_000 })
  assert.match(await fix.locator('.reason').textContent(), /Tidpunkten ligger i framtiden/)
  await fix.getByRole('link', { name: 'Rätta' }).click()
  await page.getByRole('heading', { name: 'Rätta observationen' }).waitFor()
  const now = new Date()
  await page.getByLabel('Tidpunkt').fill(new Date(now.getTime() - now.getTimezoneOffset() * 60_000 - 600_000).toISOString().slice(0, 16))
  await page.getByRole('button', { name: 'Spara och skicka igen' }).click()
  await page.getByRole('heading', { name: 'Utkorg' }).waitFor()
  await page.locator('.pending-line', { hasText: 'Allt skickat' }).waitFor({ timeout: 30_000 })
  const corrected = await waitFor(async () => {
    const items = (await coordinator.get('/api/v1/observations?limit=100')).items
    return items.find((o) => o.note === 'Utan GPS: fel tid') ?? null
  }, 'the corrected observation on the server')
  assert.equal(corrected.area_code, 'TC')
  assert.ok(corrected.observed_at < Date.now(), 'the corrected time')
  assert.deepEqual(phone.errors, [])
})
