// The field app in Debian's chromium against the real binary: a field user logs in, goes
// offline, records three observations and a shift with tallies, reloads and restarts the browser
// while offline and finds everything, goes online and the outbox empties; the record the server
// quarantines shows its reason, is fixed and sent again. Then a push that races another device of
// the same user is a conflict, which the app pulls, merges per column and pushes again.
// Screenshots at 390×844 of every main screen go to screenshots/ (not committed); axe-core checks
// each screen. Last, an app updated to the schema with the feedback table opens the database an
// older version left, keeps what waits to be sent, and gets the feedback written before.
//
//   cargo build && cd tests/browser && npm ci && LAGESBILD_BIN=…/debug/lagesbild node --test

'use strict'

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { startServer } = require('./lib/server')
const { Phone, HOME } = require('./lib/browser')
const api = require('./lib/api')
const { waitFor } = require('./lib/wait')
const { AREAS } = require('./lib/seed')

/** Gothenburg: a wrong GPS fix, outside the organisation's bounding box. */
const FAR_AWAY = { latitude: 57.7089, longitude: 11.9746, accuracy: 15 }

let server
let coordinator
let phone

before(async () => {
  server = await startServer()
  coordinator = await api.login(server, 'carla', 'carla-laptop')
  phone = new Phone()
})

after(async () => {
  if (phone) await phone.dispose()
  if (server) await server.stop()
})

/** A value of the phone's IndexedDB settings. */
function storedSetting(page, key) {
  return page.evaluate((key) => new Promise((resolve, reject) => {
    const open = indexedDB.open('lagesbild')
    open.onerror = () => reject(open.error)
    open.onsuccess = () => {
      const get = open.result.transaction('kv').objectStore('kv').get(key)
      get.onsuccess = () => resolve(get.result)
    }
  }), key)
}

/** The open shift as stored in the phone's IndexedDB. */
function storedShift(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('lagesbild')
    open.onerror = () => reject(open.error)
    open.onsuccess = () => {
      const tx = open.result.transaction(['kv', 'activity_logs'])
      const id = tx.objectStore('kv').get('open_shift')
      id.onsuccess = () => {
        if (!id.result) return resolve(null)
        const record = tx.objectStore('activity_logs').get(id.result)
        record.onsuccess = () => resolve(record.result)
      }
    }
  }))
}

async function recordObservation(page, { category, severity, safety, people, age, note, accuracy = HOME.accuracy }) {
  await page.goto(`${server.url}/app/#observation`)
  await page.getByText(category, { exact: true }).click()
  await page.getByRole('group', { name: 'Allvar' }).getByText(String(severity), { exact: true }).click()
  await page.getByRole('group', { name: 'Upplevd trygghet här nu' }).getByText(String(safety), { exact: true }).click()
  for (let i = 0; i < people; i += 1) await page.getByRole('button', { name: 'Öka Antal personer' }).click()
  await page.getByRole('group', { name: 'Ålder (uppskattad)' }).getByText(age, { exact: true }).click()
  await page.getByLabel('Anteckning').fill(note)
  await waitFor(async () => (await page.locator('.position-status').textContent()).includes(`GPS ±${accuracy}\u00a0m`), 'a GPS fix')
}

test('a field user records offline, syncs, and fixes what the server quarantined', async (t) => {
  const page = await phone.open()
  t.after(async () => {
    if (phone.context) await phone.screenshot('zz-last-state').catch(() => {})
  })

  // Log in once, online.
  await page.goto(`${server.url}/app/`)
  await page.getByLabel('Organisation').waitFor()
  await phone.screenshot('01-login')
  await phone.checkAccessibility('login')
  await page.getByLabel('Organisation').fill(server.org)
  await page.getByLabel('Användarnamn').fill('anna')
  await page.getByLabel('Lösenord').fill(server.password)
  await page.getByRole('button', { name: 'Logga in' }).click()
  await page.getByRole('heading', { name: 'Ny observation' }).waitFor()
  await page.getByText('Skadegörelse', { exact: true }).waitFor()
  // Installable: the manifest reads without errors and chromium sees nothing that prevents installing.
  const cdp = await phone.context.newCDPSession(page)
  const manifest = await cdp.send('Page.getAppManifest')
  assert.deepEqual(manifest.errors, [], 'the manifest has errors')
  const installability = await cdp.send('Page.getInstallabilityErrors')
  assert.deepEqual(installability.installabilityErrors, [], 'chromium would not install the app')
  await cdp.detach()
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready
    while (!navigator.serviceWorker.controller) await new Promise((resolve) => setTimeout(resolve, 100))
  })

  // Offline from here on.
  await phone.context.setOffline(true)
  await page.reload()
  await page.getByRole('heading', { name: 'Ny observation' }).waitFor()
  await page.locator('#sync-pill', { hasText: 'Offline' }).waitFor()

  await recordObservation(page, {
    category: 'Skadegörelse', severity: 3, safety: 2, people: 4, age: '13–15',
    note: 'Krossad ruta vid busshållplatsen, vittne nås på 070-123 45 67',
  })
  await page.getByLabel('Behöver följas upp').check()
  await phone.screenshot('02-observation-top', { scroll: 'top' })
  await phone.screenshot('02-observation-bottom', { scroll: 'bottom' })
  await phone.checkAccessibility('new observation')
  await page.getByRole('button', { name: 'Spara', exact: true }).click()
  await page.getByText('Sparad. Skickas när det finns nät.').waitFor()

  await recordObservation(page, { category: 'Klotter', severity: 2, safety: 3, people: 0, age: 'vet ej', note: 'Nytt klotter på gångbron' })
  await page.getByRole('button', { name: 'Spara', exact: true }).click()
  await page.getByText('Sparad. Skickas när det finns nät.').waitFor()

  // The third one gets a wrong GPS fix, far outside the municipality.
  await phone.context.setGeolocation(FAR_AWAY)
  await recordObservation(page, { category: 'Belysning trasig eller saknas', severity: 2, safety: 2, people: 0, age: 'vet ej', note: 'Tre lampor släckta i gångtunneln', accuracy: FAR_AWAY.accuracy })
  await page.getByRole('button', { name: 'Spara', exact: true }).click()
  await page.getByText('Sparad. Skickas när det finns nät.').waitFor()
  await phone.context.setGeolocation(HOME)
  await page.locator('#sync-pill', { hasText: 'Offline · 3 väntar' }).waitFor()

  // A shift with a tally.
  await page.goto(`${server.url}/app/#activity`)
  await page.getByText('Uppsökande pass', { exact: true }).click()
  await phone.screenshot('03-activity-start')
  await page.getByRole('button', { name: 'Starta pass' }).click()
  await page.getByText(/Uppsökande pass pågår sedan/).waitFor()
  await page.getByRole('link', { name: /Aktivitet\W+pass pågår/ }).waitFor()
  const tap = async (name, times) => {
    for (let i = 0; i < times; i += 1) await page.getByRole('button', { name: `Öka ${name}` }).click()
  }
  await tap('Tjejer', 3)
  await tap('Killar', 2)
  await tap('13–15', 4)
  await page.getByText('Kön räknar 5 och ålder 4. Båda ska räkna samma personer.').waitFor()
  await page.waitForTimeout(3500) // the toast has gone
  await phone.screenshot('04-activity-tally-mismatch', { scroll: 'top' })
  await phone.checkAccessibility('activity tally')
  await tap('16–17', 1)
  await page.getByText('Totalt: 5').waitFor()
  // Each tap is written to IndexedDB at once (a few milliseconds); a reload does not wait for it.
  await waitFor(async () => (await storedShift(page))?.age_16_17 === 1, 'the last tap stored')

  // Reload while offline: the shift and its counts are still there.
  await page.reload()
  await page.getByText(/Uppsökande pass pågår sedan/).waitFor()
  assert.equal(await page.locator('input[name="girls"]').inputValue(), '3')
  assert.equal(await page.locator('input[name="age_16_17"]').inputValue(), '1')
  await phone.screenshot('05-activity-tally-after-reload')
  await page.getByRole('button', { name: 'Avsluta pass' }).click()
  await page.getByText('Passet avslutat och sparat.').waitFor()

  // Restart the browser, still offline: the app opens from the service worker's cache.
  await phone.close()
  const restarted = await phone.open()
  await phone.context.setOffline(true)
  await restarted.goto(`${server.url}/app/#outbox`)
  await restarted.getByText('4 väntar', { exact: true }).waitFor()
  assert.equal(await restarted.locator('.record.state-waiting').count(), 4)
  await phone.screenshot('06-outbox-offline')
  await phone.checkAccessibility('outbox offline')

  // Online again once the access token has expired: the app renews it and the outbox empties.
  const { access_expires_at: expiry } = await storedSetting(restarted, 'session')
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiry - Date.now() + 500)))
  await phone.context.setOffline(false)
  await restarted.locator('.pending-line', { hasText: '1 behöver rättas' }).waitFor({ timeout: 30_000 })
  assert.equal(await restarted.locator('.record.state-waiting').count(), 0)
  await restarted.locator('#sync-pill', { hasText: '1 behöver rättas' }).waitFor()
  await phone.screenshot('07-outbox-synced')
  const fix = restarted.locator('.record.state-fix')
  assert.match(await fix.locator('.reason').textContent(), /Positionen ligger utanför kommunen/)
  assert.match(await fix.locator('.server-reason').textContent(), /outside the organisation/)
  assert.equal(await restarted.locator('.record.state-synced').count(), 3)
  await restarted.getByText('Servern tog bort personuppgifter ur anteckningen.').waitFor()
  await restarted.getByText('Krossad ruta vid busshållplatsen, vittne nås på [telefonnummer borttaget]').waitFor()

  // The server holds the two good observations and the shift; the third is in quarantine.
  const observations = (await coordinator.get('/api/v1/observations')).items
  assert.equal(observations.length, 2)
  const broken = observations.find((o) => o.category === 'vandalism')
  assert.equal(broken.redacted, true)
  assert.equal(broken.people_count, 4)
  assert.equal(broken.needs_follow_up, true)
  const activities = (await coordinator.get('/api/v1/activities')).items
  assert.equal(activities.length, 1)
  assert.equal(activities[0].girls, 3)
  assert.equal(activities[0].age_13_15, 4)
  assert.ok(activities[0].ended_at)
  const quarantined = (await coordinator.get('/api/v1/sync/quarantine')).filter((entry) => !entry.resolved)
  assert.equal(quarantined.length, 1)
  assert.equal(quarantined[0].payload.category, 'lighting')

  // Fix it: take the position again, now that GPS is right, and send it again.
  await fix.getByRole('link', { name: 'Rätta' }).click()
  await restarted.getByRole('heading', { name: 'Rätta observationen' }).waitFor()
  await restarted.getByRole('button', { name: 'Hämta GPS igen' }).click()
  await waitFor(async () => /GPS ±12\u00a0m/.test(await restarted.locator('.position-status').textContent()), 'the new fix')
  await phone.screenshot('08-fix-observation', { scroll: 'top' })
  await phone.checkAccessibility('fix observation')
  await restarted.getByRole('button', { name: 'Spara och skicka igen' }).click()
  await restarted.getByRole('heading', { name: 'Utkorg' }).waitFor()
  await waitFor(async () => (await restarted.locator('.record.state-synced').count()) === 4, 'all four records synced', 30_000)
  assert.equal(await restarted.locator('.record.state-fix').count(), 0)
  await restarted.locator('.pending-line', { hasText: 'Allt skickat' }).waitFor()
  await waitFor(async () => (await coordinator.get('/api/v1/observations')).items.length === 3, 'the fixed observation on the server')
  const fixed = (await coordinator.get('/api/v1/observations')).items.find((o) => o.category === 'lighting')
  assert.ok(Math.abs(fixed.lat - HOME.latitude) < 0.001 && Math.abs(fixed.lon - HOME.longitude) < 0.001)
  await phone.screenshot('09-outbox-all-sent')

  // A coordinator reviews an observation; the phone shows it after its next sync.
  await coordinator.patch(`/api/v1/observations/${broken.id}`, { status: 'forwarded', review_comment: 'Till Tybo' })
  await restarted.getByRole('button', { name: 'Synka nu' }).click()
  await restarted.getByText('Status: vidarebefordrad').waitFor()
  await restarted.getByText('Kommentar: Till Tybo').waitFor()

  // Settings, and English.
  await restarted.getByRole('link', { name: 'Mer' }).click()
  await restarted.getByRole('heading', { name: 'Mer' }).waitFor()
  // The phone gets a name of its user's choosing, which the devices page shows.
  await restarted.getByLabel('Namn på den här telefonen').fill('Fältgruppens telefon 2')
  await restarted.getByRole('button', { name: 'Spara namnet' }).click()
  await restarted.getByText('Namnet är sparat.').waitFor()
  const named = (await coordinator.get('/api/v1/devices')).find((device) => device.label === 'Fältgruppens telefon 2')
  assert.equal(named?.username, 'anna', 'the label is on anna\'s phone')
  assert.equal(named?.kind, 'phone')
  assert.equal(named?.platform, 'Chrome · Android')
  await phone.screenshot('10-more')
  await phone.checkAccessibility('more')
  await restarted.getByText('English', { exact: true }).click()
  await restarted.getByRole('heading', { name: 'More' }).waitFor()
  await restarted.getByRole('link', { name: 'Outbox' }).click()
  await restarted.getByText('All sent', { exact: true }).first().waitFor()
  await phone.screenshot('11-outbox-english')

  const refreshes = server.log().filter((line) => line.includes('"route":"/api/v1/auth/refresh"'))
  assert.ok(refreshes.length > 0 && refreshes.every((line) => line.includes('"status":200')), 'the app renewed its token')
  assert.deepEqual(phone.errors, [], 'the page threw')
})

// With location access and without: a shift needs no position.
for (const { geolocation, user } of [{ geolocation: true, user: 'bo' }, { geolocation: false, user: 'frida' }]) {
  test(`a tally edited on another device meanwhile is merged, not lost (location ${geolocation ? 'granted' : 'denied'})`, async (t) => {
    const second = new Phone({ geolocation })
    t.after(() => second.dispose())
    const page = await second.open()
    await page.goto(`${server.url}/app/`)
    await page.getByLabel('Organisation').fill(server.org)
    await page.getByLabel('Användarnamn').fill(user)
    await page.getByLabel('Lösenord').fill(server.password)
    await page.getByRole('button', { name: 'Logga in' }).click()
    await page.getByRole('heading', { name: 'Ny observation' }).waitFor()

    // A shift, online: it reaches the server.
    await page.goto(`${server.url}/app/#activity`)
    await page.getByText('Sommarcafé', { exact: true }).click()
    await page.getByRole('button', { name: 'Starta pass' }).click()
    await page.getByRole('button', { name: 'Öka Tjejer' }).click()
    await page.getByRole('button', { name: 'Öka 13–15' }).click()
    await page.locator('#sync-pill', { hasText: 'Allt skickat' }).waitFor({ timeout: 30_000 })

    // The next push of the phone races a tablet of the same user that changes the note.
    const tablet = await api.login(server, user, `${user}-tablet`)
    let raced = false
    let conflicted = false
    await second.context.route('**/api/v1/sync/push**', async (route) => {
      if (!raced) {
        raced = true
        const pulled = await tablet.pull()
        const shift = pulled.changes.activity_logs.updated.concat(pulled.changes.activity_logs.created)[0]
        const answer = await tablet.push(pulled.timestamp, {
          activity_logs: { created: [], updated: [{ ...shift, note: 'Regn, få besökare', _status: 'updated', _changed: 'note' }], deleted: [] },
        })
        assert.equal(answer.results[0].status, 'applied')
        const response = await route.fetch()
        const body = await response.json()
        conflicted = body.results.some((result) => result.status === 'conflict')
        return route.fulfill({ response, json: body })
      }
      await route.continue()
    })
    await page.getByRole('button', { name: 'Öka Killar' }).click()
    await page.getByRole('button', { name: 'Öka 16–17' }).click()
    await page.locator('#sync-pill', { hasText: 'Allt skickat' }).waitFor({ timeout: 30_000 })
    assert.ok(conflicted, 'the raced push was a conflict')

    // The phone's counts and the tablet's note are both on the server, and on the phone.
    const shift = (await tablet.get('/api/v1/activities')).items[0]
    assert.equal(shift.girls, 1)
    assert.equal(shift.boys, 1)
    assert.equal(shift.age_16_17, 1)
    assert.equal(shift.note, 'Regn, få besökare')
    await page.reload()
    assert.equal(await page.getByLabel('Anteckning').inputValue(), 'Regn, få besökare')
  })
}

test('an updated app keeps what waits to be sent and gets the feedback written before its last sync', async (t) => {
  const admin = await api.login(server, 'dora', 'dora-laptop')
  await admin.post('/api/v1/areas', AREAS)
  const old = new Phone()
  t.after(() => old.dispose())
  const page = await old.open()
  await page.goto(`${server.url}/app/`)
  await page.getByLabel('Organisation').fill(server.org)
  await page.getByLabel('Användarnamn').fill('frida')
  await page.getByLabel('Lösenord').fill(server.password)
  await page.getByRole('button', { name: 'Logga in' }).click()
  await page.getByText('Skadegörelse', { exact: true }).waitFor()
  const feedback = await coordinator.post('/api/v1/feedback', { body: 'Lampan i gångtunneln är lagad.', areas: ['TC'] })

  // Offline, a report waits to be sent.
  await old.context.setOffline(true)
  await recordObservation(page, { category: 'Klotter', severity: 2, safety: 4, people: 0, age: 'vet ej', note: 'Väntar på nät' })
  await page.getByRole('button', { name: 'Spara', exact: true }).click()
  await page.getByText('Sparad. Skickas när det finns nät.').waitFor()

  // The phone as the app before the `feedback` table left it: a version 1 database with the
  // same data, and a last sync (schema version 1) after the feedback was written.
  await page.goto('about:blank')
  await old.context.setOffline(false)
  await page.goto(`${server.url}/healthz`)
  const deviceId = await page.evaluate(async () => {
    const request = (req) => new Promise((resolve, reject) => { req.onsuccess = () => resolve(req.result); req.onerror = () => reject(req.error) })
    const current = await request(indexedDB.open('lagesbild'))
    const tables = ['observations', 'activity_logs', 'categories', 'activity_types', 'units', 'areas']
    const tx = current.transaction(['kv', ...tables])
    const kv = { keys: await request(tx.objectStore('kv').getAllKeys()), values: await request(tx.objectStore('kv').getAll()) }
    const rows = {}
    for (const table of tables) rows[table] = await request(tx.objectStore(table).getAll())
    current.close()
    await request(indexedDB.deleteDatabase('lagesbild'))
    const open = indexedDB.open('lagesbild', 1)
    open.onupgradeneeded = () => {
      open.result.createObjectStore('kv')
      for (const table of tables) open.result.createObjectStore(table, { keyPath: 'id' })
    }
    const v1 = await request(open)
    const write = v1.transaction(['kv', ...tables], 'readwrite')
    kv.keys.forEach((key, i) => write.objectStore('kv').put(kv.values[i], key))
    for (const table of tables) for (const row of rows[table]) write.objectStore(table).put(row)
    await new Promise((resolve) => { write.oncomplete = resolve })
    v1.close()
    return kv.values[kv.keys.indexOf('device_id')]
  })
  const lastSync = await api.login(server, 'frida', deviceId).then((frida) => frida.pull())
  assert.equal('feedback' in lastSync.changes, false, 'version 1 has no feedback table')
  await page.evaluate((timestamp) => new Promise((resolve, reject) => {
    const open = indexedDB.open('lagesbild', 1)
    open.onsuccess = () => {
      const tx = open.result.transaction('kv', 'readwrite')
      tx.objectStore('kv').put(timestamp, 'last_pulled_at')
      tx.oncomplete = () => { open.result.close(); resolve() }
    }
    open.onerror = () => reject(open.error)
  }), lastSync.timestamp)

  // The updated app opens it (offline, from its cache), keeps the waiting report, and its first
  // sync is a replacement that brings the feedback.
  await old.context.setOffline(true)
  await page.goto(`${server.url}/app/#outbox`)
  await page.locator('#sync-pill', { hasText: 'Offline · 1 väntar' }).waitFor()
  await old.context.setOffline(false)
  await page.locator('.feedback-section').getByText('Lampan i gångtunneln är lagad.').waitFor({ timeout: 30_000 })
  await page.locator('#sync-pill', { hasText: 'Allt skickat' }).waitFor({ timeout: 30_000 })
  const sent = (await coordinator.get('/api/v1/observations?limit=1000')).items.filter((o) => o.note === 'Väntar på nät')
  assert.equal(sent.length, 1, 'the waiting report reached the server once')
  assert.ok(feedback.id)
  assert.deepEqual(old.errors, [], 'the app threw')
})
