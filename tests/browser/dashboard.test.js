// The coordinator dashboard in Debian's chromium against the real binary. A field user records
// observations offline in the field app and syncs; a coordinator logs into /dashboard/ and finds
// them in the heat map, the area table and the review queue, sets a status and a comment, which
// the phone shows after its next sync; the quarantine lists the record the server refused, and
// the devices list revokes the phone. A partner sees the map and the area table only. Every
// main screen is screenshotted at 1280×800 and 390×844 into screenshots/ (not committed) and
// checked with axe-core.
//
//   cargo build && cd tests/browser && npm ci && LAGESBILD_BIN=…/debug/lagesbild node --test
//
// `export buttons download files that parse` needs the export endpoints
// (/api/v1/reports/activity, /api/v1/exports/observations, /api/v1/reports/followup).

'use strict'

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { startServer } = require('./lib/server')
const { Phone, Desk, HOME } = require('./lib/browser')
const api = require('./lib/api')
const { waitFor } = require('./lib/wait')
const { AREAS, pushRecords } = require('./lib/seed')

/** Gothenburg: a wrong GPS fix, outside the organisation's bounding box. */
const FAR_AWAY = { latitude: 57.7089, longitude: 11.9746, accuracy: 15 }
const SCREENS = ['map', 'areas', 'area/TC', 'review', 'quarantine', 'devices', 'exports']

let server
let admin
let coordinator

before(async () => {
  server = await startServer()
  admin = await api.login(server, 'dora', 'dora-laptop')
  coordinator = await api.login(server, 'carla', 'carla-api')
  await admin.post('/api/v1/areas', AREAS)
  await pushRecords(await api.login(server, 'bo', 'bo-phone'))
  await admin.put(`/api/v1/users/${server.userIds.erik}/areas`, { areas: ['TC', 'TB'] })
})

after(async () => {
  if (server) await server.stop()
})

async function recordObservation(page, { category, severity, safety, note, accuracy = HOME.accuracy }) {
  await page.goto(`${server.url}/app/#observation`)
  await page.getByText(category, { exact: true }).click()
  await page.getByRole('group', { name: 'Allvar' }).getByText(String(severity), { exact: true }).click()
  await page.getByRole('group', { name: 'Upplevd trygghet här nu' }).getByText(String(safety), { exact: true }).click()
  await page.getByLabel('Anteckning').fill(note)
  await waitFor(async () => (await page.locator('.position-status').textContent()).includes(`GPS ±${accuracy}\u00a0m`), 'a GPS fix')
  await page.getByRole('button', { name: 'Spara', exact: true }).click()
  await page.getByText(/^Sparad/).waitFor()
}

async function logIn(page, username) {
  await page.goto(`${server.url}/dashboard/`)
  await page.getByLabel('Organisation').fill(server.org)
  await page.getByLabel('Användarnamn').fill(username)
  await page.getByLabel('Lösenord').fill(server.password)
  await page.getByRole('button', { name: 'Logga in' }).click()
}

/** Opens a view by its hash and waits for its heading and its data. */
async function open(page, hash) {
  await page.goto(`${server.url}/dashboard/#${hash}`)
  await page.locator('main h1').waitFor()
  await page.locator('main [role="status"]', { hasText: /^(Hämtar|Loading)/ }).waitFor({ state: 'detached' }).catch(() => {})
  await page.waitForFunction(() => !document.querySelector('main p.hint[role="status"]'))
}

test('a coordinator reviews in the dashboard what a field user recorded offline, and the phone shows it', async (t) => {
  // The field app: offline, two observations (one with a wrong GPS fix), then online.
  const phone = new Phone()
  t.after(() => phone.dispose())
  const app = await phone.open()
  await app.goto(`${server.url}/app/`)
  await app.getByLabel('Organisation').fill(server.org)
  await app.getByLabel('Användarnamn').fill('anna')
  await app.getByLabel('Lösenord').fill(server.password)
  await app.getByRole('button', { name: 'Logga in' }).click()
  await app.getByText('Skadegörelse', { exact: true }).waitFor()
  await phone.context.setOffline(true)
  await recordObservation(app, { category: 'Skadegörelse', severity: 4, safety: 2, note: 'Krossad ruta vid busshållplatsen' })
  await phone.context.setGeolocation(FAR_AWAY)
  await recordObservation(app, { category: 'Klotter', severity: 2, safety: 3, note: 'Klotter på fel ställe', accuracy: FAR_AWAY.accuracy })
  await phone.context.setGeolocation(HOME)
  await app.locator('#sync-pill', { hasText: 'Offline · 2 väntar' }).waitFor()
  await phone.context.setOffline(false)
  await app.locator('#sync-pill', { hasText: '1 behöver rättas' }).waitFor({ timeout: 30_000 })

  // The coordinator's laptop.
  const desk = new Desk()
  t.after(async () => {
    await desk.screenshot('dashboard-zz-last-state').catch(() => {})
    await desk.close()
  })
  const page = await desk.open()
  await page.goto(`${server.url}/dashboard/`)
  await page.getByRole('heading', { name: 'Logga in' }).waitFor()
  await desk.screenshot('dashboard-desktop-00-login')
  await desk.checkAccessibility('dashboard login')
  await logIn(page, 'carla')

  // The heat map: hexagons over the four area outlines.
  await page.getByRole('heading', { name: 'Värmekarta' }).waitFor()
  await page.locator('.cells path.cell').first().waitFor()
  assert.equal(await page.locator('.areas path.area').count(), 4)
  const cells = await page.locator('.cells path.cell').count()
  assert.ok(cells >= 5, `hexagons on the map: ${cells}`)
  await page.getByText(/^25 observationer i \d+ hexagoner\./).waitFor()
  assert.equal(await page.locator('.tiles image').count(), 0, 'no tile server, no tiles')
  await desk.screenshot('dashboard-desktop-01-map')
  await desk.checkAccessibility('map')

  // A hexagon opens its figures and the area it lies in; that opens the area's picture.
  const busiest = await page.locator('.cells path.cell').evaluateAll((paths) => {
    const counts = paths.map((p) => Number(/\d+/.exec(p.getAttribute('aria-label'))?.[0] ?? 0))
    return counts.indexOf(Math.max(...counts))
  })
  await page.locator('.cells path.cell').nth(busiest).click()
  await page.getByRole('heading', { name: 'Hexagon' }).waitFor()
  await page.getByText('Ligger i Tyresö centrum').waitFor()
  await desk.screenshot('dashboard-desktop-02-map-hexagon')
  await desk.checkAccessibility('map with a hexagon open')
  await page.getByRole('button', { name: 'Öppna områdets bild' }).click()
  await page.getByRole('heading', { name: 'Tyresö centrum', level: 1 }).waitFor()
  await page.getByRole('img', { name: /Observationer per veckodag och timme/ }).waitFor()
  await page.getByRole('img', { name: /Observationer per allvarsgrad/ }).waitFor()
  await page.getByRole('img', { name: /Observationer per månad/ }).waitFor()
  // The month chart marks the months the window and today cut.
  assert.match(await page.locator('.month-partial').textContent(), /Ljusare staplar är ofullständiga månader: .+ \(\d+.+\)/)
  await page.getByRole('cell', { name: 'Skadegörelse' }).first().waitFor()
  await desk.screenshot('dashboard-desktop-03-area', { fullPage: true })
  await desk.checkAccessibility('area')

  // Filters: after dark only, then a category; the map follows.
  await page.locator('#nav').getByRole('link', { name: 'Karta' }).click()
  await page.getByLabel('Kategori').selectOption('vandalism')
  await page.getByText(/^\d+ observationer i \d+ hexagon/).waitFor()
  const vandalism = await page.locator('.cells path.cell').count()
  assert.ok(vandalism >= 1 && vandalism < cells, `vandalism hexagons: ${vandalism}`)
  await page.getByLabel('Kategori').selectOption('')
  // The map is drawn again for every category: wait for the redrawn one before focusing in it.
  await page.waitForFunction((n) => document.querySelectorAll('.cells path.cell').length === n, cells)
  // An area outline opens from the keyboard too.
  await page.locator('path.area[data-code="TB"]').focus()
  await page.keyboard.press('Enter')
  await page.getByRole('heading', { name: 'Trollbäcken', level: 1 }).waitFor()

  // The area table, sortable.
  await page.locator('#nav').getByRole('link', { name: 'Områden' }).click()
  await page.getByRole('heading', { name: 'Områden', level: 1 }).waitFor()
  const table = page.locator('table.areas-table')
  await table.waitFor()
  assert.equal(await table.locator('tbody tr').count(), 4)
  assert.equal(await table.locator('tbody tr').first().locator('th').textContent(), 'Tyresö TY', 'most observations first')
  const centrum = table.locator('tbody tr', { hasText: 'Tyresö centrum' })
  assert.match(await centrum.locator('td').first().textContent(), /^\d+$/)
  // The last twelve months against the twelve before, with their dates; "last year" would repeat them.
  assert.match(await page.locator('p.windows').textContent(), /Förra perioden: \d+ \S+ \d{4}–\d+ \S+ \d{4}\. Ingen egen jämförelse med i fjol/)
  assert.equal(await table.locator('thead th', { hasText: 'Mot i fjol' }).count(), 0)
  assert.match(await table.locator('thead th', { hasText: 'Mot förra perioden' }).textContent(), /\d{4}/)
  await table.getByRole('button', { name: /^Område/ }).click()
  assert.equal(await table.locator('thead th').first().getAttribute('aria-sort'), 'ascending')
  assert.equal(await table.locator('tbody tr').first().locator('th a').textContent(), 'Trollbäcken')
  await desk.screenshot('dashboard-desktop-04-areas')
  await desk.checkAccessibility('areas')

  // The review queue: anna's observation, reviewed and forwarded with a comment.
  await page.locator('#nav').getByRole('link', { name: /Granskning/ }).click()
  const card = page.locator('article.observation', { hasText: 'Krossad ruta vid busshållplatsen' })
  await card.waitFor()
  await desk.screenshot('dashboard-desktop-05-review')
  await desk.checkAccessibility('review')
  await card.getByLabel('Status').selectOption('forwarded')
  await card.getByLabel('Kommentar').fill('Till Tybo')
  await card.getByRole('button', { name: 'Spara' }).click()
  await page.getByText('Sparat: Vidarebefordrad.').waitFor()
  await card.waitFor({ state: 'detached' })
  const stored = (await coordinator.get('/api/v1/observations?status=forwarded')).items
  assert.equal(stored.length, 1)
  assert.equal(stored[0].review_comment, 'Till Tybo')

  // The phone shows the review after its next sync.
  await app.goto(`${server.url}/app/#outbox`)
  await app.getByRole('button', { name: 'Synka nu' }).click()
  await app.getByText('Status: vidarebefordrad').waitFor()
  await app.getByText('Kommentar: Till Tybo').waitFor()

  // The quarantine: the record with the wrong position, and why.
  await page.locator('#nav').getByRole('link', { name: 'Karantän' }).click()
  const entry = page.locator('table.quarantine-table tbody tr', { hasText: 'anna' })
  await entry.waitFor()
  assert.match(await entry.textContent(), /Positionen ligger utanför kommunen\./)
  assert.match(await entry.textContent(), /Observation: Klotter/)
  await desk.screenshot('dashboard-desktop-06-quarantine')
  await desk.checkAccessibility('quarantine')

  // The devices: anna's phone, with its last sync, is revoked; the phone learns it at once.
  await page.locator('#nav').getByRole('link', { name: 'Telefoner' }).click()
  // Phones are grouped by user, named by browser and system; dashboard sign-ins are apart.
  const row = page.locator('table.devices-table.phones tbody[data-user="anna"] tr[data-device]')
  await row.waitFor()
  assert.equal(await row.count(), 1)
  assert.match(await row.locator('th').textContent(), /Chrome · Android/)
  assert.doesNotMatch(await row.locator('td').nth(1).textContent(), /aldrig/)
  const mySession = page.locator('table.devices-table.sessions tbody tr', { hasText: 'den här webbläsaren' })
  assert.match(await mySession.textContent(), /Inloggad/)
  assert.equal(await page.locator('table.devices-table.phones', { hasText: 'den här webbläsaren' }).count(), 0, 'the dashboard is not a phone')
  await desk.screenshot('dashboard-desktop-07-devices')
  await desk.checkAccessibility('devices')
  await row.getByRole('button', { name: /^Spärra/ }).click()
  const dialog = page.getByRole('dialog', { name: /^Spärra/ })
  await dialog.waitFor()
  await desk.screenshot('dashboard-desktop-08-revoke')
  await desk.checkAccessibility('revoke dialog')
  await dialog.getByRole('button', { name: 'Spärra' }).click()
  await row.getByText(/^Spärrad/).waitFor()
  assert.equal(await mySession.getByRole('button').count(), 0, 'no revoking oneself')
  await app.getByRole('button', { name: 'Synka nu' }).click()
  await app.getByText(/Den här telefonen är spärrad/).waitFor()

  // Exports (the files themselves are the next test's).
  await page.locator('#nav').getByRole('link', { name: 'Export' }).click()
  await page.getByRole('button', { name: 'Öppna rapporten' }).waitFor()
  await desk.screenshot('dashboard-desktop-09-exports')
  await desk.checkAccessibility('exports')

  // Every main screen at phone size, then in English.
  await desk.size('phone')
  for (const [i, hash] of SCREENS.entries()) {
    await open(page, hash)
    await desk.screenshot(`dashboard-phone-${String(i + 1).padStart(2, '0')}-${hash.replace('/', '-')}`)
    await desk.checkAccessibility(`${hash} on a phone`)
  }
  await desk.size('desktop')
  await open(page, 'areas')
  await page.getByLabel('Språk').selectOption('en')
  await page.getByRole('heading', { name: 'Areas', level: 1 }).waitFor()
  await page.locator('#nav').getByRole('link', { name: 'Review' }).waitFor()
  await desk.screenshot('dashboard-desktop-10-areas-english')
  await page.reload()
  await page.getByRole('heading', { name: 'Areas', level: 1 }).waitFor()

  assert.deepEqual(desk.errors, [], 'the dashboard threw')
})

test('a coordinator filters the review queue and reviews the selection in one action', async (t) => {
  // What the queue should hold: new observations in Tyresö centrum of one category.
  const inCentrum = (await coordinator.get('/api/v1/observations?status=new&area=TC&limit=1000')).items
  assert.ok(inCentrum.length >= 2, 'the seed has new observations in Tyresö centrum')
  const category = inCentrum[0].category
  const expected = inCentrum.filter((o) => o.category === category).map((o) => o.id).sort()
  const untouched = (await coordinator.get('/api/v1/observations?status=new&limit=1000')).items.filter((o) => !expected.includes(o.id))
  assert.ok(untouched.length > 0, 'some new observations lie outside the filter')
  const label = (await coordinator.get('/api/v1/categories')).find((c) => c.slug === category).label_sv

  const desk = new Desk()
  t.after(() => desk.close())
  const page = await desk.open()
  await logIn(page, 'carla')
  await page.getByRole('heading', { name: 'Värmekarta' }).waitFor()
  await open(page, 'review')
  // The answer for the area alone comes back after the one for area and category: the queue must
  // show the later choice, not the later answer.
  await page.route('**/api/v1/observations?*', async (route) => {
    const url = new URL(route.request().url())
    if (url.searchParams.has('area') && !url.searchParams.has('category')) await new Promise((resolve) => setTimeout(resolve, 1500))
    await route.continue()
  })
  await page.getByLabel('Område').selectOption({ label: 'Tyresö centrum' })
  await page.getByLabel('Kategori').selectOption({ label })
  await waitFor(async () => {
    const ids = await page.locator('article.observation').evaluateAll((cards) => cards.map((card) => card.dataset.id))
    return JSON.stringify(ids.sort()) === JSON.stringify(expected)
  }, 'the filtered queue')
  // Still so once the late answer for the area alone has come.
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const shown = await page.locator('article.observation').evaluateAll((cards) => cards.map((card) => card.dataset.id))
  assert.deepEqual(shown.sort(), expected, 'a late answer for an earlier choice does not replace the list')
  // Each card says what was noted.
  for (const card of await page.locator('article.observation').all()) assert.match(await card.textContent(), /Exempel \d+/)

  const bulk = page.getByRole('form', { name: 'Granska flera på en gång' })
  await bulk.getByLabel('Välj alla som visas').check()
  await bulk.getByText(`${expected.length} valda av ${expected.length} som visas`).waitFor()
  await bulk.getByLabel('Status').selectOption('closed')
  await bulk.getByLabel('Kommentar').fill('Åtgärdat av Tyresö Bostäder')
  await desk.screenshot('dashboard-desktop-05b-review-bulk')
  await desk.checkAccessibility('bulk review')
  await bulk.getByRole('button', { name: `Granska ${expected.length} valda` }).click()
  await page.getByText(`${expected.length} ändrade, 0 hade redan den granskningen.`).waitFor()

  for (const id of expected) {
    const record = await coordinator.get(`/api/v1/observations/${id}`)
    assert.equal(record.status, 'closed')
    assert.equal(record.review_comment, 'Åtgärdat av Tyresö Bostäder')
    const reviews = (await coordinator.get(`/api/v1/observations/${id}/history`)).filter((entry) => entry.change === 'review')
    assert.equal(reviews.length, 1, `one history entry for ${id}`)
  }
  for (const o of untouched) assert.equal((await coordinator.get(`/api/v1/observations/${o.id}`)).status, 'new', 'outside the filter')
  assert.deepEqual(desk.errors, [], 'the dashboard threw')
})

test('a partner sees the map and the area table of shared areas only, by the disclosure rule', async (t) => {
  const desk = new Desk()
  t.after(() => desk.close())
  const page = await desk.open()
  await logIn(page, 'erik')
  await page.getByRole('heading', { name: 'Värmekarta' }).waitFor()
  const links = await page.locator('#nav a:visible').allTextContents()
  assert.deepEqual(links, ['Karta', 'Områden', 'Åtgärder'])
  // The partner disclosure rule: figures per area, category and tertial, never hexagons, and
  // the filters offer tertials and categories only.
  await page.getByText(/Som samverkanspartner ser du tal per område, kategori och tertial/).waitFor()
  assert.equal(await page.locator('.cells path.cell').count(), 0, 'no hexagons for a partner')
  assert.deepEqual((await page.locator('.areas path.area').evaluateAll((paths) => paths.map((p) => p.dataset.code))).sort(), ['TB', 'TC'])
  assert.equal(await page.locator('form.filters select[name=hours]').count(), 0, 'no time-of-day filter')
  const periods = await page.locator('form.filters select[name=period] option').evaluateAll((options) => options.map((o) => o.value))
  assert.ok(periods.length > 0 && periods.every((value) => /^\d{4}-T[1-3]$/.test(value)), `tertials only: ${periods}`)
  await desk.screenshot('dashboard-desktop-11-partner-map')
  await desk.checkAccessibility('partner map')

  // An expired access token is renewed with the refresh token on the next request.
  const logged = server.log().length
  await page.evaluate(() => {
    const session = JSON.parse(localStorage.getItem('lagesbild.dashboard.session'))
    localStorage.setItem('lagesbild.dashboard.session', JSON.stringify({ ...session, access_expires_at: 0 }))
  })
  await open(page, 'areas')
  const refreshes = server.log().slice(logged).filter((line) => line.includes('"route":"/api/v1/auth/refresh"'))
  assert.ok(refreshes.length === 1 && refreshes[0].includes('"status":200'), `the dashboard renewed its token once: ${refreshes.join('\n')}`)
  const table = page.locator('table.areas-table')
  assert.deepEqual((await table.locator('tbody th a').allTextContents()).sort(), ['Trollbäcken', 'Tyresö centrum'])
  await page.getByText('Värden från färre än 3 poster visas inte').waitFor()
  await desk.screenshot('dashboard-desktop-12-partner-areas')
  await desk.checkAccessibility('partner areas')

  // The coordinators' views are not offered, even by address.
  await page.goto(`${server.url}/dashboard/#review`)
  await page.getByRole('heading', { name: 'Värmekarta' }).waitFor()
  assert.equal(await page.locator('article.observation').count(), 0)
  assert.deepEqual(desk.errors, [], 'the dashboard threw')
})

test('the heat map reads at a glance: its colour classes are the legend, names never overlap, it fits the screen', async (t) => {
  // Öringe lies just north of Tyresö centrum: their names would fall on one another.
  const crowded = await startServer()
  t.after(() => crowded.stop())
  const admin = await api.login(crowded, 'dora', 'dora-laptop')
  const oringe = {
    type: 'Feature',
    properties: { code: 'OR', name: 'Öringe', parent_code: 'TY' },
    geometry: { type: 'Polygon', coordinates: [[[18.222, 59.2496], [18.246, 59.2496], [18.246, 59.2534], [18.222, 59.2534], [18.222, 59.2496]]] },
  }
  await admin.post('/api/v1/areas', { ...AREAS, features: [...AREAS.features, oringe] })
  await pushRecords(await api.login(crowded, 'bo', 'bo-phone'))
  const heat = await admin.get('/api/v1/heatmap?resolution=9')
  assert.ok(heat.classes.length >= 2, `classes: ${JSON.stringify(heat.classes)}`)

  const desk = new Desk()
  t.after(() => desk.close())
  const page = await desk.open()
  await page.goto(`${crowded.url}/dashboard/`)
  await page.getByLabel('Organisation').fill(crowded.org)
  await page.getByLabel('Användarnamn').fill('dora')
  await page.getByLabel('Lösenord').fill(crowded.password)
  await page.getByRole('button', { name: 'Logga in' }).click()
  await page.getByRole('heading', { name: 'Värmekarta' }).waitFor()
  await page.locator('.cells path.cell').first().waitFor()

  // The legend lists the API's classes with their limits; each hexagon has its class's colour.
  const legend = await page.locator('.legend-classes li').evaluateAll((items) => items.map((li) => [Number(li.dataset.min), Number(li.dataset.max), li.textContent]))
  assert.deepEqual(legend.map(([min, max]) => [min, max]), heat.classes.map((c) => [c.min, c.max]))
  assert.match(legend[legend.length - 1][2], /\d/)
  const fills = await page.locator('.cells path.cell').evaluateAll((paths) => paths.map((p) => [Number(/\d+/.exec(p.getAttribute('aria-label'))[0]), p.getAttribute('fill'), p.getAttribute('fill-opacity')]))
  for (const [count, colour, opacity] of fills) {
    const own = heat.classes.find((c) => c.min <= count && count <= c.max)
    assert.equal(colour, own.colour, `a hexagon of ${count}`)
    assert.equal(opacity, '0.9')
  }

  // No two names overlap, at first and zoomed in; Öringe and Tyresö centrum are both named.
  const overlapping = () => page.locator('.labels text').evaluateAll((texts) => {
    const boxes = texts.filter((text) => text.getAttribute('visibility') !== 'hidden').map((text) => [text.textContent, text.getBoundingClientRect()])
    const hits = []
    for (let i = 0; i < boxes.length; i += 1) {
      for (let j = i + 1; j < boxes.length; j += 1) {
        const [a, b] = [boxes[i][1], boxes[j][1]]
        if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) hits.push(`${boxes[i][0]} / ${boxes[j][0]}`)
      }
    }
    return hits
  })
  assert.deepEqual(await overlapping(), [])
  const named = await page.locator('.labels text:not([visibility=hidden])').allTextContents()
  assert.ok(named.includes('Öringe') && named.includes('Tyresö centrum'), `named: ${named}`)
  await page.getByRole('button', { name: 'Zooma in' }).click()
  assert.deepEqual(await overlapping(), [])

  // At 1280 × 800 with the filters open, the whole map is on the screen.
  assert.equal(await page.locator('details.filter-box').getAttribute('open'), '')
  const bottom = await page.locator('svg.map').evaluate((svg) => svg.getBoundingClientRect().bottom)
  assert.ok(bottom <= 800, `the map ends at ${bottom}px`)
  await desk.screenshot('dashboard-desktop-13-crowded-map')
  assert.deepEqual(desk.errors, [], 'the dashboard threw')
})

test('map tiles come from the configured tile server, and only then', async (t) => {
  const tile = fs.readFileSync(path.join(__dirname, '..', '..', 'web', 'app', 'icon-192.png'))
  const asked = []
  const tiles = http.createServer((request, response) => {
    asked.push(request.url)
    response.writeHead(200, { 'content-type': 'image/png', 'access-control-allow-origin': '*' })
    response.end(tile)
  })
  await new Promise((resolve) => tiles.listen(0, '127.0.0.1', resolve))
  t.after(() => tiles.close())
  const tiled = await startServer({
    env: {
      LAGESBILD_TILE_URL: `http://127.0.0.1:${tiles.address().port}/tiles/{z}/{x}/{y}.png`,
      LAGESBILD_TILE_ATTRIBUTION: '© Testkartor',
    },
  })
  t.after(() => tiled.stop())
  await (await api.login(tiled, 'dora', 'dora-laptop')).post('/api/v1/areas', AREAS)
  const desk = new Desk()
  t.after(() => desk.close())
  const page = await desk.open()
  await page.goto(`${tiled.url}/dashboard/`)
  await page.getByLabel('Organisation').fill(tiled.org)
  await page.getByLabel('Användarnamn').fill('carla')
  await page.getByLabel('Lösenord').fill(tiled.password)
  await page.getByRole('button', { name: 'Logga in' }).click()
  await page.locator('.areas path.area').first().waitFor()
  await page.locator('.tiles image').first().waitFor({ state: 'attached' })
  await page.getByText('Karta: © Testkartor').waitFor()
  await waitFor(() => asked.some((url) => /^\/tiles\/\d+\/\d+\/\d+\.png$/.test(url)), 'a tile request')
  assert.deepEqual(desk.errors, [], 'the dashboard threw')
})

test('the municipality’s own base map (an MBTiles file) is served by the binary and drawn under the map', async (t) => {
  // Every tile around Tyresö at zoom 10–15, each the app icon, in an MBTiles file (rows from the south).
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'lagesbild-basemap-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'tyreso.mbtiles')
  const script = `
import sqlite3, math, sys
db = sqlite3.connect(sys.argv[1]); tile = open(sys.argv[2], 'rb').read()
db.executescript("CREATE TABLE metadata (name TEXT, value TEXT); CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB); INSERT INTO metadata VALUES ('format','png'),('minzoom','10'),('maxzoom','15'),('attribution','© Tyresö kommun');")
def xy(lon, lat, z):
    n = 2 ** z; s = math.sin(math.radians(lat))
    return int((lon + 180) / 360 * n), int((0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n)
for z in range(10, 16):
    (x0, y0), (x1, y1) = xy(18.10, 59.30, z), xy(18.40, 59.17, z)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            db.execute('INSERT INTO tiles VALUES (?, ?, ?, ?)', (z, x, 2 ** z - 1 - y, tile))
db.commit()
`
  require('node:child_process').execFileSync('python3', ['-c', script, file, path.join(__dirname, '..', '..', 'web', 'app', 'icon-192.png')])
  const mapped = await startServer({ env: { LAGESBILD_BASEMAP: file } })
  t.after(() => mapped.stop())
  await (await api.login(mapped, 'dora', 'dora-laptop')).post('/api/v1/areas', AREAS)
  const desk = new Desk()
  t.after(() => desk.close())
  const page = await desk.open()
  const served = []
  page.on('response', (response) => {
    if (new URL(response.url()).pathname.startsWith('/tiles/')) served.push([response.url(), response.status()])
  })
  await page.goto(`${mapped.url}/dashboard/`)
  await page.getByLabel('Organisation').fill(mapped.org)
  await page.getByLabel('Användarnamn').fill('carla')
  await page.getByLabel('Lösenord').fill(mapped.password)
  await page.getByRole('button', { name: 'Logga in' }).click()
  await page.locator('.areas path.area').first().waitFor()
  await page.locator('.tiles image').first().waitFor({ state: 'attached' })
  await page.getByText('Karta: © Tyresö kommun').waitFor()
  await waitFor(() => served.some(([, status]) => status === 200), 'a tile from the binary')
  assert.ok(served.every(([url]) => url.startsWith(mapped.url)), 'tiles come from this server only')
  const hrefs = await page.locator('.tiles image').evaluateAll((images) => images.map((image) => image.getAttribute('href')))
  assert.ok(hrefs.every((href) => /^\/tiles\/(1[0-5])\/\d+\/\d+$/.test(href)), `within the file's zoom range: ${hrefs.slice(0, 3)}`)
  await desk.screenshot('dashboard-desktop-14-basemap')
  assert.deepEqual(desk.errors, [], 'the dashboard threw')
})

test('an administrator sets the retention periods, is told field by field what is wrong, and previews a run', async (t) => {
  const desk = new Desk()
  t.after(() => desk.close())
  t.after(() => admin.patch('/api/v1/retention', { free_text_months: null, position_months: null, history_months: null, audit_months: null }))
  const page = await desk.open()
  // Coordinators do not see it.
  await logIn(page, 'carla')
  await page.getByRole('heading', { name: 'Värmekarta' }).waitFor()
  assert.equal(await page.locator('#nav').getByRole('link', { name: 'Gallring' }).count(), 0)
  await page.getByRole('button', { name: 'Logga ut' }).click()
  await logIn(page, 'dora')
  await page.getByRole('heading', { name: 'Värmekarta' }).waitFor()
  await page.locator('#nav').getByRole('link', { name: 'Gallring' }).click()
  await page.getByRole('heading', { name: 'Gallring', level: 1 }).waitFor()
  await page.getByText('Inte gallrat än.').waitFor()
  const freeText = page.getByLabel('Fritext (anteckningar och granskningskommentarer), månader')
  await freeText.fill('0')
  await page.getByLabel('Exakta positioner, månader').fill('24')
  await page.getByRole('button', { name: 'Spara', exact: true }).click()
  await page.getByText('Ange ett antal månader från 1 till 600, eller lämna tomt.').waitFor()
  assert.equal(await freeText.getAttribute('aria-invalid'), 'true')
  assert.equal((await admin.get('/api/v1/retention')).position_months, null, 'a refused form changes nothing')
  await freeText.fill('12')
  await page.getByRole('button', { name: 'Spara', exact: true }).click()
  await page.getByText('Gallringsreglerna är sparade.').waitFor()
  const stored = await admin.get('/api/v1/retention')
  assert.equal(stored.free_text_months, 12)
  assert.equal(stored.position_months, 24)
  await page.getByRole('button', { name: 'Visa vad som skulle gallras' }).click()
  await page.getByRole('heading', { name: 'Skulle gallras' }).waitFor()
  const counts = await page.locator('[data-count]').count()
  assert.equal(counts, 8, 'every kind is counted')
  await desk.screenshot('dashboard-desktop-08-retention')
  await desk.checkAccessibility('retention')
  await desk.size('phone')
  await desk.screenshot('dashboard-phone-08-retention', { fullPage: true })
  await desk.checkAccessibility('retention on a phone')
  await desk.size('desktop')
  const runs = (await admin.get('/api/v1/audit?action=retention.run')).items
  assert.equal(runs.length, 1, 'the preview is in the audit log')
  assert.equal(runs[0].role, 'admin')
  assert.deepEqual(desk.errors, [], 'the dashboard threw')
})

test('a coordinator marks a problem, plans a measure against it, sees its delivered effort and effect, and starts it', async (t) => {
  const desk = new Desk()
  t.after(() => desk.close())
  const page = await desk.open()
  await logIn(page, 'carla')
  await page.getByRole('heading', { name: 'Värmekarta' }).waitFor()
  await page.locator('#nav').getByRole('link', { name: 'Åtgärder' }).click()
  await page.getByRole('heading', { name: 'Åtgärdsplan', level: 1 }).waitFor()
  await page.getByText('Inga åtgärder än.').waitFor()
  // The week's picture first: the areas the server flags, as many as it flags.
  const weekly = await coordinator.get('/api/v1/picture/weekly')
  await page.getByRole('heading', { name: `Veckans läge, ${weekly.week}` }).waitFor()
  const flagged = weekly.areas.filter((row) => row.flagged).length
  assert.equal(await page.locator('[aria-labelledby="plan-weekly"] [data-flagged]').getAttribute('data-flagged'), String(flagged))

  // A problem without a title is refused next to the field, and nothing is stored.
  const problemForm = page.getByRole('form', { name: 'Nytt problem' })
  await problemForm.getByLabel('Områden').selectOption('TC')
  await problemForm.getByRole('button', { name: 'Lägg till problemet' }).click()
  await problemForm.getByText('Fyll i det här.').waitFor()
  assert.equal(await problemForm.getByLabel('Rubrik').getAttribute('aria-invalid'), 'true')
  assert.deepEqual(await coordinator.get('/api/v1/problems'), [], 'a refused form stores nothing')
  await problemForm.getByLabel('Rubrik').fill('Samlingar vid centrumet på kvällarna')
  await problemForm.getByLabel('Källa').selectOption('field_staff')
  await problemForm.getByLabel('Efter mörkrets inbrott').check()
  await problemForm.getByRole('button', { name: 'Lägg till problemet' }).click()
  await page.getByText('Problemet är sparat.').waitFor()
  const [problem] = await coordinator.get('/api/v1/problems')
  assert.equal(problem.title, 'Samlingar vid centrumet på kvällarna')
  assert.deepEqual([problem.source, problem.areas, problem.time_window.after_dark], ['field_staff', ['TC'], true])

  // The measure: outreach evenings in Tyresö centrum from 60 days ago, 6 hours a week.
  const start = new Date(Date.now() - 60 * 86_400_000).toISOString().slice(0, 10)
  const measureForm = page.getByRole('form', { name: 'Ny åtgärd' })
  await measureForm.getByLabel('Rubrik').fill('Uppsökande kvällar i centrum')
  await measureForm.getByLabel('Ansvarig').selectOption('falt')
  await measureForm.getByLabel('Områden').selectOption('TC')
  await measureForm.getByLabel('Problem som åtgärden gäller').selectOption(problem.id)
  await measureForm.getByLabel('Aktivitetstyper som räknas som insats').selectOption('outreach_shift')
  await measureForm.getByLabel('Planerad start').fill(start)
  await measureForm.getByLabel('Timmar i veckan, eller vad engångsinsatsen är').fill('6')
  await measureForm.getByLabel('Beslut (till exempel EST-möte 2026-03-04)').fill('EST-möte i centrum')
  await measureForm.getByRole('button', { name: 'Lägg till åtgärden' }).click()
  await page.getByText('Åtgärden är sparad.').waitFor()
  const [measure] = await coordinator.get('/api/v1/measures')
  assert.deepEqual([measure.responsible_unit, measure.areas, measure.problems, measure.planned_start], ['falt', ['TC'], [problem.id], start])

  // Its row: delivered against planned hours as the API counts them, and an honest effect.
  const effort = await coordinator.get(`/api/v1/measures/${measure.id}/effort`)
  assert.ok(effort.delivered_hours > 0, 'the seeded outreach shifts in TC count')
  const row = page.locator(`[data-measure="${measure.id}"]`)
  const planned = effort.planned_hours.toLocaleString('sv-SE', { maximumFractionDigits: 1 })
  await row.locator('[data-effort]').getByText(`${effort.delivered_hours.toLocaleString('sv-SE', { maximumFractionDigits: 1 })} av ${planned} h`).waitFor()
  assert.equal(await row.locator('[data-effect]').getAttribute('data-effect'), 'too_few_to_tell')
  await row.getByText('För få rapporter för att säga något').waitFor()
  await row.getByText('Mot: Samlingar vid centrumet på kvällarna').waitFor()

  // Started: the status is saved against the version read.
  await row.getByLabel('Status för Uppsökande kvällar i centrum').selectOption('ongoing')
  await page.getByText('Statusen är sparad.').waitFor()
  const started = await coordinator.get(`/api/v1/measures/${measure.id}`)
  assert.deepEqual([started.status, started.version], ['ongoing', 2])

  // Its weeks: delivered hours as bars, said in words.
  const weeks = row.locator('details.weeks')
  await weeks.locator('summary').click()
  const chartLabel = await weeks.locator('svg').getAttribute('aria-label')
  assert.ok(chartLabel.includes(`${effort.weeks.length} veckor`), chartLabel)

  // Changed after the meeting: more hours and an end date, against the version read.
  await row.getByRole('button', { name: 'Ändra Uppsökande kvällar i centrum' }).click()
  const editForm = page.getByRole('form', { name: 'Ändra ”Uppsökande kvällar i centrum”' })
  assert.equal(await editForm.getByLabel('Rubrik').inputValue(), 'Uppsökande kvällar i centrum', 'the form holds the measure')
  assert.equal(await editForm.getByLabel('Problem som åtgärden gäller').inputValue(), problem.id)
  await editForm.getByLabel('Timmar i veckan, eller vad engångsinsatsen är').fill('8')
  const end = new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10)
  await editForm.getByLabel('Planerat slut (tomt: tills vidare)').fill(end)
  await editForm.getByRole('button', { name: 'Spara ändringen' }).click()
  await page.getByText('Åtgärden är ändrad.').waitFor()
  const changed = await coordinator.get(`/api/v1/measures/${measure.id}`)
  assert.deepEqual([changed.version, changed.effort.hours, changed.planned_end, changed.status, changed.problems], [3, 8, end, 'ongoing', [problem.id]])
  await page.getByRole('form', { name: 'Ny åtgärd' }).waitFor()

  // The problem, watched now: its status changed in its form.
  await page.getByRole('button', { name: 'Ändra Samlingar vid centrumet på kvällarna' }).click()
  const problemEdit = page.getByRole('form', { name: 'Ändra problemet ”Samlingar vid centrumet på kvällarna”' })
  assert.equal(await problemEdit.getByLabel('Efter mörkrets inbrott').isChecked(), true, 'the form holds the problem')
  await problemEdit.getByLabel('Status').selectOption('monitoring')
  await problemEdit.getByRole('button', { name: 'Spara ändringen' }).click()
  await page.getByText('Problemet är ändrat.').waitFor()
  const watched = await coordinator.get(`/api/v1/problems/${problem.id}`)
  assert.deepEqual([watched.status, watched.version, watched.source, watched.time_window.after_dark], ['monitoring', 2, 'field_staff', true])

  // An earlier week's picture, chosen by its week.
  const earlier = (await coordinator.get('/api/v1/picture/weekly?week=2026-W10'))
  await page.getByLabel('Vecka', { exact: true }).fill('2026-W10')
  await page.getByRole('heading', { name: `Veckans läge, ${earlier.week}` }).waitFor()

  await desk.screenshot('dashboard-desktop-09-plan', { fullPage: true })
  await desk.checkAccessibility('plan')
  await desk.size('phone')
  await desk.screenshot('dashboard-phone-09-plan', { fullPage: true })
  await desk.checkAccessibility('plan on a phone')
  await desk.size('desktop')
  assert.deepEqual(desk.errors, [], 'the dashboard threw')
})

test('a coordinator sends feedback on an area, and the field user’s phone shows it next to their reports there until it is withdrawn', async (t) => {
  // Bo's phone, holding his seeded reports.
  const phone = new Phone()
  t.after(() => phone.dispose())
  const app = await phone.open()
  await app.goto(`${server.url}/app/`)
  await app.getByLabel('Organisation').fill(server.org)
  await app.getByLabel('Användarnamn').fill('bo')
  await app.getByLabel('Lösenord').fill(server.password)
  await app.getByRole('button', { name: 'Logga in' }).click()
  await app.getByText('Skadegörelse', { exact: true }).waitFor()
  await app.goto(`${server.url}/app/#outbox`)
  await app.locator('.records li').first().waitFor()

  // The area where Bo reported most, and his records there, as the server placed them.
  const mine = [
    ...(await coordinator.get('/api/v1/observations?limit=1000')).items,
    ...(await coordinator.get('/api/v1/activities?limit=1000')).items,
  ].filter((record) => record.user_id === server.userIds.bo && record.area_code)
  const counts = new Map()
  for (const record of mine) counts.set(record.area_code, (counts.get(record.area_code) ?? 0) + 1)
  const [area] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]
  const expected = mine.filter((record) => record.area_code === area).map((record) => record.id).sort()

  // The coordinator writes it in the action plan view; an empty text is refused at the field.
  const desk = new Desk()
  t.after(() => desk.close())
  const page = await desk.open()
  await logIn(page, 'carla')
  await page.getByRole('heading', { name: 'Värmekarta' }).waitFor()
  await page.locator('#nav').getByRole('link', { name: 'Åtgärder' }).click()
  const form = page.getByRole('form', { name: 'Ny återkoppling' })
  await form.getByLabel('Områden').selectOption(area)
  await form.getByRole('button', { name: 'Skicka återkopplingen' }).click()
  await form.getByText('Fyll i det här.').waitFor()
  assert.equal(await form.getByLabel('Text').getAttribute('aria-invalid'), 'true')
  assert.deepEqual(await coordinator.get('/api/v1/feedback'), [], 'a refused form stores nothing')
  await form.getByLabel('Text').fill('Tack! Lampan vid gångtunneln är lagad nu.')
  await form.getByRole('button', { name: 'Skicka återkopplingen' }).click()
  await page.getByText('Återkopplingen är skickad.').waitFor()
  const [sent] = await coordinator.get('/api/v1/feedback')
  assert.deepEqual([sent.body, sent.areas], ['Tack! Lampan vid gångtunneln är lagad nu.', [area]])
  await page.locator(`[data-feedback="${sent.id}"]`).waitFor()
  await desk.checkAccessibility('plan with feedback')

  // The phone's next sync: the feedback on top, marked as where Bo reported, and beside each of his reports there.
  await app.getByRole('button', { name: 'Synka nu' }).click()
  const section = app.locator('.feedback-section')
  await section.getByText('Tack! Lampan vid gångtunneln är lagad nu.').waitFor({ timeout: 30_000 })
  await section.getByText('Där du rapporterat').waitFor()
  const besideIds = await app.locator('.records li:has(.record-feedback)').evaluateAll((items) => items.map((item) => item.dataset.id))
  assert.deepEqual(besideIds.sort(), expected, 'beside exactly his records in that area')
  await phone.screenshot('field-app-feedback')
  await phone.checkAccessibility('outbox with feedback')

  // Withdrawn in the dashboard: gone from the phone at its next sync.
  page.once('dialog', (dialog) => dialog.accept())
  await page.getByRole('button', { name: /^Ta tillbaka återkopplingen/ }).click()
  await page.getByText('Återkopplingen är tillbakatagen.').waitFor()
  assert.deepEqual(await coordinator.get('/api/v1/feedback'), [])
  await app.getByRole('button', { name: 'Synka nu' }).click()
  await section.waitFor({ state: 'detached', timeout: 30_000 })
  assert.equal(await app.locator('.record-feedback').count(), 0)
  assert.deepEqual([...desk.errors, ...phone.errors], [], 'no page threw')
})

test('a field account is sent to the field app', async (t) => {
  const desk = new Desk()
  t.after(() => desk.close())
  const page = await desk.open()
  await logIn(page, 'bo')
  await page.getByText('Det här kontot är ett fältkonto.').waitFor()
  await page.getByRole('link', { name: /\/app\/$/ }).waitFor()
  await page.reload()
  await page.getByRole('heading', { name: 'Logga in' }).waitFor()
})

test('export buttons fetch with the token and save under the server’s file name', async (t) => {
  // The browser's side of the exports, with the server's answers stood in for.
  const desk = new Desk()
  t.after(() => desk.close())
  const page = await desk.open()
  const asked = []
  await page.route('**/api/v1/reports/activity**', (route) => {
    asked.push({ url: route.request().url(), authorization: route.request().headers().authorization })
    route.fulfill({
      status: 200,
      headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': 'attachment; filename="aktiviteter-T.csv"; filename*=UTF-8\'\'aktiviteter-%C3%A5r.csv' },
      body: '\ufefftyp;enhet;pass\r\noutreach_shift;falt;3\r\n',
    })
  })
  await page.route('**/api/v1/reports/followup**', (route) => {
    asked.push({ url: route.request().url(), authorization: route.request().headers().authorization })
    route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: '<!doctype html><title>Uppföljning</title><style>h1 { color: rgb(1, 2, 3) }</style><h1>Uppföljning</h1>' })
  })
  await logIn(page, 'carla')
  await page.getByRole('heading', { name: 'Värmekarta' }).waitFor()
  await page.locator('#nav').getByRole('link', { name: 'Export' }).click()
  const activity = page.getByRole('region', { name: /^Aktiviteter/ })
  const [download] = await Promise.all([page.waitForEvent('download'), activity.getByRole('button', { name: 'CSV för Excel (semikolon)' }).click()])
  assert.equal(download.suggestedFilename(), 'aktiviteter-år.csv')
  assert.match(fs.readFileSync(await download.path(), 'utf8'), /^\ufefftyp;enhet;pass\r\n/)
  const url = new URL(asked[0].url)
  assert.match(asked[0].authorization, /^Bearer \S+/)
  assert.equal(url.searchParams.get('format'), 'csv')
  assert.equal(url.searchParams.get('sep'), 'semicolon')
  assert.equal(url.searchParams.get('group_by'), 'type,unit')
  assert.equal(url.searchParams.get('compare'), 'last_year')
  assert.match(url.searchParams.get('period'), /^\d{4}-T[123]$/)
  await page.locator('.export-status', { hasText: 'Sparad: aktiviteter-år.csv' }).waitFor()

  // The report opens in a new tab from a blob, with its own styles.
  const [tab] = await Promise.all([page.waitForEvent('popup'), page.getByRole('button', { name: 'Öppna rapporten' }).click()])
  await tab.waitForURL(/^blob:/)
  await tab.getByRole('heading', { name: 'Uppföljning' }).waitFor()
  assert.equal(await tab.locator('h1').evaluate((el) => getComputedStyle(el).color), 'rgb(1, 2, 3)')
  assert.match(asked[1].authorization, /^Bearer \S+/)
  assert.equal(new URL(asked[1].url).searchParams.get('lang'), 'sv')
})

test('export buttons download files that parse', async (t) => {
  const desk = new Desk()
  t.after(() => desk.close())
  const page = await desk.open()
  await logIn(page, 'carla')
  await page.getByRole('heading', { name: 'Värmekarta' }).waitFor()
  await page.locator('#nav').getByRole('link', { name: 'Export' }).click()
  await page.getByLabel('Period', { exact: true }).selectOption({ index: 0 })
  const save = async (region, button) => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('region', { name: region }).getByRole('button', { name: button, exact: true }).click(),
    ])
    await page.locator('.export-status', { hasText: /^Sparad: / }).waitFor()
    return { name: download.suggestedFilename(), bytes: fs.readFileSync(await download.path()) }
  }
  const csvHeader = (bytes, separator) => {
    const header = bytes.toString('utf8').replace(/^\ufeff/, '').split(/\r?\n/)[0]
    assert.ok(header.split(separator).length >= 2, `a header row: ${header}`)
  }

  const activityCsv = await save(/^Aktiviteter/, 'CSV')
  assert.match(activityCsv.name, /\.csv$/)
  csvHeader(activityCsv.bytes, ',')
  csvHeader((await save(/^Aktiviteter/, 'CSV för Excel (semikolon)')).bytes, ';')
  const activityXlsx = await save(/^Aktiviteter/, 'Excel (XLSX)')
  assert.match(activityXlsx.name, /\.xlsx$/)
  assert.equal(activityXlsx.bytes.subarray(0, 2).toString('latin1'), 'PK')

  csvHeader((await save('Observationer', 'CSV')).bytes, ',')
  assert.equal((await save('Observationer', 'Excel (XLSX)')).bytes.subarray(0, 2).toString('latin1'), 'PK')
  const geojson = JSON.parse((await save('Observationer', 'GeoJSON (för GIS)')).bytes.toString('utf8'))
  assert.equal(geojson.type, 'FeatureCollection')

  const [tab] = await Promise.all([page.waitForEvent('popup'), page.getByRole('button', { name: 'Öppna rapporten' }).click()])
  await tab.waitForURL(/^blob:/)
  await tab.waitForLoadState()
  assert.match(await tab.content(), /<html/i)
  assert.ok((await tab.locator('body').innerText()).trim().length > 0, 'the report has content')
})

test('a coordinator previews the lägesbild, approves it as a version that opens and downloads as it was approved', async (t) => {
  const desk = new Desk()
  t.after(() => desk.close())
  const page = await desk.open()
  await logIn(page, 'carla')
  await page.getByRole('heading', { name: 'Värmekarta' }).waitFor()
  await page.locator('#nav').getByRole('link', { name: 'Export' }).click()
  const card = page.getByRole('region', { name: 'Lägesbild och åtgärdsplan' })
  await card.getByText('Ingen godkänd version för perioden än.').waitFor()
  const period = await page.locator('.view.exports').getByLabel('Period', { exact: true }).inputValue()
  assert.match(period, /^\d{4}-T[1-3]$/)
  await card.getByLabel('Analys').fill('Fler samlingar vid centrum efter mörkrets inbrott.')
  await card.getByLabel('Underlag från samverkanspartner').fill('Polisen ser samma mönster.')

  // The draft opens in a new tab and says it is one.
  const [draft] = await Promise.all([page.waitForEvent('popup'), card.getByRole('button', { name: 'Förhandsgranska' }).click()])
  await draft.waitForURL(/^blob:/)
  await draft.getByText('Utkast – inte godkänt').waitFor()
  await draft.getByText('Fler samlingar vid centrum efter mörkrets inbrott.').waitFor()
  assert.deepEqual(await coordinator.get('/api/v1/documents'), [], 'a preview stores nothing')

  // Approved: version 1, by Carla, listed; it opens and downloads as stored.
  page.once('dialog', (dialog) => dialog.accept())
  await card.getByRole('button', { name: 'Godkänn och spara version' }).click()
  await page.locator('.export-status', { hasText: 'Version 1 är godkänd och sparad.' }).waitFor()
  const [stored] = await coordinator.get(`/api/v1/documents?kind=lagesbild&period=${encodeURIComponent(period)}`)
  assert.deepEqual([stored.version, stored.approved_by, stored.analysis], [1, server.userIds.carla, 'Fler samlingar vid centrum efter mörkrets inbrott.'])
  const row = card.locator(`[data-document="${stored.id}"]`)
  await row.waitFor()
  const [opened] = await Promise.all([page.waitForEvent('popup'), row.getByRole('button', { name: 'Öppna version 1' }).click()])
  await opened.waitForURL(/^blob:/)
  await opened.locator('#approval[data-version="1"]').waitFor()
  await opened.getByText('Polisen ser samma mönster.').waitFor()
  const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Excel (XLSX) för version 1' }).click()])
  assert.equal(download.suggestedFilename(), `lagesbild-${period}-v1.xlsx`)
  assert.equal(fs.readFileSync(await download.path()).subarray(0, 2).toString('latin1'), 'PK')
  await desk.screenshot('dashboard-desktop-10-documents', { fullPage: true })
  await desk.checkAccessibility('exports with documents')
  assert.deepEqual(desk.errors, [], 'the dashboard threw')
})

test('a partner sees the measures carried out by their unit and marks theirs done, on the record', async (t) => {
  const start = new Date(Date.now() - 14 * 86_400_000).toISOString().slice(0, 10)
  const created = await coordinator.post('/api/v1/measures', {
    title: 'Laga belysningen vid gångtunneln', responsible_unit: 'falt', areas: ['TC'], planned_start: start,
    effort: { kind: 'one_off', description: 'Nya armaturer' }, status: 'ongoing', decision: 'EST-möte',
  })
  const desk = new Desk()
  t.after(() => desk.close())
  const page = await desk.open()
  await logIn(page, 'erik')
  await page.getByRole('heading', { name: 'Värmekarta' }).waitFor()
  await page.locator('#nav').getByRole('link', { name: 'Åtgärder' }).click()
  await page.getByRole('heading', { name: 'Åtgärder', level: 1 }).waitFor()
  // As many rows as the API gives the partner, and no problem behind them.
  const shared = await api.login(server, 'erik', 'erik-api').then((erik) => erik.get('/api/v1/measures'))
  await page.locator(`[data-measure="${created.id}"]`).waitFor()
  assert.equal(await page.locator('[data-measure]').count(), shared.length)
  assert.equal(await page.getByText(/^Mot:/).count(), 0, 'no problems for partners')
  // Its effect as the API gives it to the partner (whole tertials of published cells).
  const effect = await api.login(server, 'erik', 'erik-api').then((erik) => erik.get(`/api/v1/measures/${created.id}/effect`))
  assert.equal(await page.locator(`[data-measure="${created.id}"] [data-effect]`).getAttribute('data-effect'), effect.verdict)
  const status = page.getByLabel('Status för Laga belysningen vid gångtunneln')
  assert.deepEqual(await status.locator('option').evaluateAll((options) => options.map((o) => o.value)), ['ongoing', 'done'])
  await status.selectOption('done')
  await page.getByText('Statusen är sparad.').waitFor()
  const after = await coordinator.get(`/api/v1/measures/${created.id}`)
  assert.deepEqual([after.status, after.version, after.updated_by], ['done', 2, server.userIds.erik])
  await desk.screenshot('dashboard-desktop-13-partner-plan')
  await desk.checkAccessibility('partner plan')
  assert.deepEqual(desk.errors, [], 'the dashboard threw')
})
