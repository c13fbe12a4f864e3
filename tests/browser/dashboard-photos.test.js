// Photos in the coordinator dashboard, in Debian's chromium against the real binary. A field
// user's phone pushes, through the API as the field app does, an observation whose photo it then
// uploads, one whose photo has not arrived yet and one without photos, beside a few months of
// other observations. The coordinator sees the thumbnail in the review queue and on the area's
// page, loaded only for what is on the screen; opens the full photo in a dialog, only then
// fetched, and closes it with Escape; reads that the other photo is on its way; and the object
// URLs go when the view does.
//
//   cargo build && cd tests/browser && npm ci && LAGESBILD_BIN=…/debug/lagesbild node --test dashboard-photos.test.js

'use strict'

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { startServer } = require('./lib/server')
const { Desk } = require('./lib/browser')
const api = require('./lib/api')
const { waitFor } = require('./lib/wait')
const { AREAS, pushRecords, uuidv7 } = require('./lib/seed')

const PHONE_ID = 'anna-phone'

let server

before(async () => {
  server = await startServer()
  const admin = await api.login(server, 'dora', 'dora-laptop')
  await admin.post('/api/v1/areas', AREAS)
  await pushRecords(await api.login(server, 'bo', 'bo-phone'))
})

after(async () => {
  if (server) await server.stop()
})

/** A photo as the field app makes one: drawn on a canvas and encoded as JPEG by the browser. */
async function drawPhoto(page) {
  const bytes = await page.evaluate(async () => {
    const canvas = document.createElement('canvas')
    canvas.width = 640
    canvas.height = 480
    const context = canvas.getContext('2d')
    const gradient = context.createLinearGradient(0, 0, 640, 480)
    gradient.addColorStop(0, '#345')
    gradient.addColorStop(1, '#fc3')
    context.fillStyle = gradient
    context.fillRect(0, 0, 640, 480)
    context.fillStyle = '#c33'
    context.fillRect(220, 140, 200, 200)
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.85))
    return [...new Uint8Array(await blob.arrayBuffer())]
  })
  return Buffer.from(bytes)
}

/** An observation in Tyresö centrum, `hoursAgo` before now. */
function observation(note, hoursAgo) {
  const observedAt = Date.now() - hoursAgo * 3_600_000
  return {
    id: uuidv7(observedAt),
    category: 'vandalism',
    severity: 3,
    perceived_safety: 3,
    people_count: 0,
    age_band: 'unknown',
    note,
    lat: 59.2443,
    lon: 18.2284,
    accuracy_m: 10,
    observed_at: observedAt,
    needs_follow_up: false,
  }
}

/** The attachment record the phone pushes for `photo` on observation `observationId`. */
function attachment(observationId, photo) {
  return {
    id: uuidv7(),
    observation_id: observationId,
    sha256: crypto.createHash('sha256').update(photo).digest('hex'),
    content_type: 'image/jpeg',
    byte_size: photo.length,
    width: 640,
    height: 480,
    created_at: Date.now(),
  }
}

/** Uploads a photo's bytes in one chunk, as the phone that attached it. */
async function upload(username, photo) {
  const login = await fetch(`${server.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ organisation: server.org, username, password: server.password, device_id: PHONE_ID }),
  })
  assert.equal(login.status, 200, 'the field user logs in')
  const { access_token: token } = await login.json()
  const sha256 = crypto.createHash('sha256').update(photo).digest('hex')
  const answer = await fetch(`${server.url}/api/v1/uploads/${sha256}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'upload-offset': '0', 'content-type': 'application/octet-stream' },
    body: photo,
  })
  assert.equal(answer.status, 201, `the photo is stored: ${await answer.text()}`)
}

async function logIn(page, username) {
  await page.goto(`${server.url}/dashboard/`)
  await page.getByLabel('Organisation').fill(server.org)
  await page.getByLabel('Användarnamn').fill(username)
  await page.getByLabel('Lösenord').fill(server.password)
  await page.getByRole('button', { name: 'Logga in' }).click()
  await page.getByRole('heading', { name: 'Värmekarta' }).waitFor()
}

/** Waits until the image has been decoded from its bytes; returns its source. */
async function decoded(image) {
  await image.waitFor()
  await image.evaluate((img) => new Promise((resolve, reject) => {
    const check = () => (img.complete && img.naturalWidth > 0 ? resolve() : setTimeout(check, 100))
    img.addEventListener('error', () => reject(new Error(`the image did not load: ${img.src}`)))
    check()
  }))
  return image.getAttribute('src')
}

test('a coordinator sees an observation’s photos as thumbnails, opens the full photo, and learns of one still on its way', async (t) => {
  const desk = new Desk()
  t.after(async () => {
    await desk.screenshot('dashboard-photos-zz-last-state').catch(() => {})
    await desk.close()
  })
  const page = await desk.open()

  // The phone: three observations, a photo on two, the bytes of one uploaded.
  const photo = await drawPhoto(page)
  const waitingPhoto = Buffer.concat([photo, Buffer.from([0])]) // other bytes, never uploaded
  const withPhoto = observation('Krossad ruta, foto taget', 1)
  const photoOnItsWay = observation('Sprayad vägg, fotot kommer', 2)
  const withoutPhoto = observation('Trasig lampa, inget foto', 3)
  const anna = await api.login(server, 'anna', PHONE_ID)
  const pulled = await anna.pull()
  const answer = await anna.push(pulled.timestamp, {
    observations: { created: [withPhoto, photoOnItsWay, withoutPhoto], updated: [], deleted: [] },
    attachments: { created: [attachment(withPhoto.id, photo), attachment(photoOnItsWay.id, waitingPhoto)], updated: [], deleted: [] },
  })
  assert.deepEqual(answer.results.filter((result) => result.status !== 'applied'), [], 'all five records stored')
  assert.equal(answer.results.length, 5)
  await upload('anna', photo)

  // Which photo requests the dashboard makes (every view is audited).
  const requested = { lists: [], thumbnails: 0, photos: 0 }
  page.on('request', (request) => {
    const path = new URL(request.url()).pathname
    if (/^\/api\/v1\/observations\/[^/]+\/attachments$/.test(path)) requested.lists.push(path.split('/')[4])
    if (/^\/api\/v1\/attachments\/[^/]+\/thumbnail$/.test(path)) requested.thumbnails += 1
    if (/^\/api\/v1\/attachments\/[^/]+\/photo$/.test(path)) requested.photos += 1
  })
  await logIn(page, 'carla')

  // The review queue: the thumbnail, the note for the photo on its way, nothing for the third.
  await page.locator('#nav').getByRole('link', { name: /Granskning/ }).click()
  const card = page.locator(`article.observation[data-id="${withPhoto.id}"]`)
  const thumbnail = card.getByRole('button', { name: /^Foto 1 av 1: Skadegörelse, / })
  const thumbnailUrl = await decoded(thumbnail.locator('img'))
  assert.match(thumbnailUrl, /^blob:/, 'shown from the bytes fetched with the token')
  await page.locator(`article.observation[data-id="${photoOnItsWay.id}"] .photo-pending`, { hasText: /^Foto på väg$/ }).waitFor()
  await page.locator(`article.observation[data-id="${withoutPhoto.id}"]`).scrollIntoViewIfNeeded()
  await waitFor(() => requested.lists.includes(withoutPhoto.id), 'the third card, once in view, asking for its photos')
  const nothing = page.locator(`article.observation[data-id="${withoutPhoto.id}"] .photos:not([aria-busy])`)
  await nothing.waitFor({ state: 'attached' })
  assert.equal(await nothing.locator('*').count(), 0, 'no photos, nothing shown')
  // Only the cards on the screen asked for their photos; no full photo was fetched.
  const cards = await page.locator('article.observation').count()
  assert.ok(cards >= 20, `the queue shows the seeded observations too: ${cards}`)
  assert.ok(requested.lists.length < cards / 2, `photo lists for the cards in view only: ${requested.lists.length} of ${cards}`)
  assert.equal(new Set(requested.lists).size, requested.lists.length, 'each list asked for once')
  assert.equal(requested.thumbnails, 1)
  assert.equal(requested.photos, 0, 'no full photo before it is asked for')
  await desk.screenshot('dashboard-photos-desktop-01-review')
  await desk.checkAccessibility('review with photos')

  // The full photo, in a dialog: on demand, then Escape closes it and the focus goes back.
  await thumbnail.click()
  const dialog = page.getByRole('dialog', { name: /^Foto 1 av 1: Skadegörelse, / })
  await dialog.waitFor()
  const full = dialog.getByRole('img', { name: /^Foto 1 av 1: Skadegörelse, / })
  await decoded(full)
  assert.deepEqual(await full.evaluate((img) => [img.naturalWidth, img.naturalHeight]), [640, 480])
  assert.equal(requested.photos, 1)
  await dialog.getByRole('button', { name: 'Stäng' }).waitFor()
  await desk.screenshot('dashboard-photos-desktop-02-photo')
  await desk.checkAccessibility('photo dialog')
  await page.keyboard.press('Escape')
  await dialog.waitFor({ state: 'detached' })
  assert.ok(await thumbnail.evaluate((button) => button === document.activeElement), 'the focus is back on the thumbnail')
  // The close button closes it too.
  await thumbnail.click()
  await decoded(full)
  await dialog.getByRole('button', { name: 'Stäng' }).click()
  await dialog.waitFor({ state: 'detached' })

  // A review saved with every status shown keeps the card, and its photos without fetching them again.
  await page.getByLabel('Visa', { exact: true }).selectOption('')
  const shownUrl = await decoded(thumbnail.locator('img'))
  const thumbnailsBefore = requested.thumbnails
  await card.getByLabel('Status').selectOption('reviewed')
  await card.getByRole('button', { name: 'Spara' }).click()
  await page.getByText('Sparat: Granskad.').waitFor()
  await card.locator('.status', { hasText: 'Granskad' }).waitFor()
  assert.equal(await decoded(thumbnail.locator('img')), shownUrl, 'the same image')
  assert.equal(requested.thumbnails, thumbnailsBefore, 'not fetched again')

  // The area's page: the same, in its latest observations, once the table is scrolled to.
  await page.goto(`${server.url}/dashboard/#area/TC`)
  await page.getByRole('heading', { name: 'Tyresö centrum', level: 1 }).waitFor()
  const revoked = (url) => page.evaluate((source) => new Promise((resolve) => {
    const img = new Image()
    img.onload = () => resolve(false)
    img.onerror = () => resolve(true)
    img.src = source
  }), url)
  assert.ok(await revoked(thumbnailUrl), 'an object URL is revoked once its list is drawn again')
  assert.ok(await revoked(shownUrl), 'and once its view is left')
  const row = page.locator(`table tr[data-id="${withPhoto.id}"]`)
  await row.scrollIntoViewIfNeeded()
  const areaThumbnail = row.getByRole('button', { name: /^Foto 1 av 1: Skadegörelse, / })
  await decoded(areaThumbnail.locator('img'))
  await page.locator(`table tr[data-id="${photoOnItsWay.id}"]`).getByText('Foto på väg', { exact: true }).waitFor()
  await page.locator(`table tr[data-id="${withoutPhoto.id}"] .photos`, { hasText: '–' }).waitFor()
  await desk.screenshot('dashboard-photos-desktop-03-area')
  await desk.checkAccessibility('area with photos')
  await areaThumbnail.click()
  await decoded(dialog.getByRole('img'))
  await desk.checkAccessibility('photo dialog on the area page')
  await page.keyboard.press('Escape')
  await dialog.waitFor({ state: 'detached' })

  // In English.
  await page.getByLabel('Språk').selectOption('en')
  await page.getByRole('heading', { name: 'Tyresö centrum', level: 1 }).waitFor()
  await row.scrollIntoViewIfNeeded()
  await decoded(row.getByRole('button', { name: /^Photo 1 of 1: Vandalism, / }).locator('img'))
  await page.locator(`table tr[data-id="${photoOnItsWay.id}"]`).getByText('Photo on its way', { exact: true }).waitFor()
  await page.getByLabel('Language').selectOption('sv')

  // On a phone: the area's latest observations as cards, the photo within the screen.
  await desk.size('phone')
  await page.getByRole('heading', { name: 'Tyresö centrum', level: 1 }).waitFor()
  await row.scrollIntoViewIfNeeded()
  await decoded(areaThumbnail.locator('img'))
  await areaThumbnail.click()
  await decoded(dialog.getByRole('img'))
  const box = await dialog.getByRole('img').boundingBox()
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `the photo fits the phone's width: ${JSON.stringify(box)}`)
  await desk.screenshot('dashboard-photos-phone-01-photo')
  await desk.checkAccessibility('photo dialog on a phone')
  await page.keyboard.press('Escape')
  await dialog.waitFor({ state: 'detached' })

  assert.deepEqual(desk.errors, [], 'the dashboard threw')
})
