// Photos in the field app, in a real browser: a photo taken offline (a camera JPEG with EXIF GPS,
// 3000 × 2250 pixels) is scaled down on the phone, kept in IndexedDB with its observation through
// a browser restart, shown in the outbox as waiting, and once the network is back the observation
// syncs and then the photo follows; the server holds it once, at 2000 pixels, with no metadata.

'use strict'

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startServer } = require('./lib/server')
const { Phone, HOME } = require('./lib/browser')
const api = require('./lib/api')
const { waitFor } = require('./lib/wait')

let server
let coordinator

before(async () => {
  server = await startServer()
  coordinator = await api.login(server, 'carla', 'carla-laptop')
})

after(async () => {
  if (server) await server.stop()
})

/** A JPEG segment. */
function segment(marker, payload) {
  const head = Buffer.alloc(4)
  head.writeUInt8(0xff, 0)
  head.writeUInt8(marker, 1)
  head.writeUInt16BE(payload.length + 2, 2)
  return Buffer.concat([head, payload])
}

/** EXIF with the maker and a GPS position (59° 14' N, 18° 13' E), little-endian. */
function exif() {
  const entries = (list) => Buffer.concat(list.map(([tag, kind, count, value]) => {
    const entry = Buffer.alloc(12)
    entry.writeUInt16LE(tag, 0)
    entry.writeUInt16LE(kind, 2)
    entry.writeUInt32LE(count, 4)
    if (typeof value === 'string') entry.write(value, 8, 'latin1')
    else entry.writeUInt32LE(value, 8)
    return entry
  }))
  const u16 = (n) => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b }
  const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b }
  const rationals = (pairs) => Buffer.concat(pairs.flatMap(([n, d]) => [u32(n), u32(d)]))
  // Header 8; IFD0 at 8 (2 + 2×12 + 4 = 30) → 38; "TestPhone\0" at 38 → 48; GPS IFD at 48
  // (2 + 4×12 + 4 = 54) → 102; latitude at 102, longitude at 126.
  const tiff = Buffer.concat([
    Buffer.from('II*\0', 'latin1'), u32(8),
    u16(2), entries([[0x010f, 2, 10, 38], [0x8825, 4, 1, 48]]), u32(0),
    Buffer.from('TestPhone\0', 'latin1'),
    u16(4), entries([[0x0001, 2, 2, 'N'], [0x0002, 5, 3, 102], [0x0003, 2, 2, 'E'], [0x0004, 5, 3, 126]]), u32(0),
    rationals([[59, 1], [14, 1], [0, 1]]), rationals([[18, 1], [13, 1], [0, 1]]),
  ])
  return Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff])
}

/** The markers of a JPEG's segments before its image data. */
function markers(jpeg) {
  assert.equal(jpeg.readUInt16BE(0), 0xffd8, 'a JPEG')
  const found = []
  let at = 2
  while (at + 4 <= jpeg.length && jpeg[at] === 0xff) {
    const marker = jpeg[at + 1]
    found.push(marker)
    if (marker === 0xda) break
    at += 2 + jpeg.readUInt16BE(at + 2)
  }
  return found
}

/** exiftool's tags, where it is installed (CI has it and says so). */
function exiftool(bytes) {
  const file = path.join(os.tmpdir(), `lagesbild-photo-${process.pid}-${Date.now()}.jpg`)
  fs.writeFileSync(file, bytes)
  try {
    return JSON.parse(execFileSync('exiftool', ['-j', '-a', '-G1', file], { encoding: 'utf8' }))[0]
  } catch (error) {
    if (process.env.LAGESBILD_TEST_NEEDS_TOOLS) throw new Error(`the photo test needs exiftool: ${error.message}`)
    return null
  } finally {
    fs.rmSync(file, { force: true })
  }
}

test('a photo taken offline is kept with its observation, scaled down and stripped, and follows it to the server', async (t) => {
  const phone = new Phone()
  t.after(async () => {
    if (phone.context) await phone.screenshot('photos-zz-last-state').catch(() => {})
    await phone.dispose()
  })
  const page = await phone.open()
  await page.goto(`${server.url}/app/`)
  await page.getByLabel('Organisation').fill(server.org)
  await page.getByLabel('Användarnamn').fill('anna')
  await page.getByLabel('Lösenord').fill(server.password)
  await page.getByRole('button', { name: 'Logga in' }).click()
  await page.getByText('Skadegörelse', { exact: true }).waitFor()
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready
    while (!navigator.serviceWorker.controller) await new Promise((resolve) => setTimeout(resolve, 100))
  })

  // The camera's file: drawn by the browser, with EXIF (GPS, maker) spliced in.
  const drawn = Buffer.from(await page.evaluate(async () => {
    const canvas = document.createElement('canvas')
    canvas.width = 3000
    canvas.height = 2250
    const context = canvas.getContext('2d')
    const gradient = context.createLinearGradient(0, 0, 3000, 2250)
    gradient.addColorStop(0, '#345')
    gradient.addColorStop(1, '#fc3')
    context.fillStyle = gradient
    context.fillRect(0, 0, 3000, 2250)
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9))
    return [...new Uint8Array(await blob.arrayBuffer())]
  }))
  const camera = Buffer.concat([drawn.subarray(0, 2), segment(0xe1, exif()), drawn.subarray(2)])
  const original = exiftool(camera)
  if (original) assert.equal(original['GPS:GPSLatitudeRef'], 'North', 'the fixture carries a position')

  // Offline: an observation with the photo.
  await phone.context.setOffline(true)
  await page.goto(`${server.url}/app/#observation`)
  await page.getByText('Skadegörelse', { exact: true }).click()
  await page.getByRole('group', { name: 'Allvar' }).getByText('3', { exact: true }).click()
  await page.getByRole('group', { name: 'Upplevd trygghet här nu' }).getByText('2', { exact: true }).click()
  await page.getByLabel('Anteckning').fill('Krossad busskur')
  await waitFor(async () => (await page.locator('.position-status').textContent()).includes(`GPS ±${HOME.accuracy}\u00a0m`), 'a GPS fix')
  await page.locator('input[name="photo"]').setInputFiles({ name: 'IMG_0001.jpg', mimeType: 'image/jpeg', buffer: camera })
  await page.locator('.photo-list img').waitFor()
  await phone.screenshot('photos-01-observation-with-photo', { scroll: 'bottom' })
  await phone.checkAccessibility('observation with a photo')
  await page.getByRole('button', { name: 'Spara', exact: true }).click()
  await page.getByText('Sparad. Skickas när det finns nät.').waitFor()

  // The browser restarts, still offline: the observation and its photo wait in the outbox.
  await phone.close()
  const again = await phone.open()
  await again.goto(`${server.url}/app/#outbox`)
  await again.locator('.record-photos', { hasText: 'Foton: 1 · 1 väntar på att skickas' }).waitFor()
  await phone.screenshot('photos-02-outbox-waiting')
  const kept = await again.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('lagesbild')
    open.onerror = () => reject(open.error)
    open.onsuccess = () => {
      const all = open.result.transaction('photos').objectStore('photos').getAll()
      all.onsuccess = () => resolve(all.result.map((photo) => ({ size: photo.blob.size, uploaded: photo.uploaded })))
    }
  }))
  assert.equal(kept.length, 1)
  assert.ok(kept[0].size > 0 && kept[0].size < camera.length, `scaled down on the phone (${kept[0].size} of ${camera.length} bytes)`)

  // Online: the observation, then its photo.
  await phone.context.setOffline(false)
  await again.locator('#sync-pill', { hasText: 'Allt skickat' }).waitFor({ timeout: 30_000 })
  await again.locator('.record-photos', { hasText: 'Foton: 1' }).waitFor()
  await waitFor(async () => !(await again.locator('.record-photos').textContent()).includes('väntar'), 'the photo sent')
  const observations = (await coordinator.get('/api/v1/observations?limit=1000')).items.filter((o) => o.note === 'Krossad busskur')
  assert.equal(observations.length, 1, 'the observation reached the server once')
  const attachments = await coordinator.get(`/api/v1/observations/${observations[0].id}/attachments`)
  assert.equal(attachments.length, 1, 'one photo, once')
  assert.equal(attachments[0].uploaded, true)
  assert.deepEqual([attachments[0].width, attachments[0].height], [2000, 1500], 'at most 2000 pixels on the long edge')
  const token = await (await fetch(`${server.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ organisation: server.org, username: 'carla', password: server.password, device_id: 'carla-laptop' }),
  })).json()
  const served = await fetch(`${server.url}${attachments[0].photo_url}`, { headers: { authorization: `Bearer ${token.access_token}` } })
  assert.equal(served.status, 200)
  assert.equal(served.headers.get('content-type'), 'image/jpeg')
  const bytes = Buffer.from(await served.arrayBuffer())
  const found = markers(bytes)
  assert.ok(found.every((m) => !(m >= 0xe1 && m <= 0xef) && m !== 0xfe), `no metadata segments: ${found.map((m) => m.toString(16))}`)
  const tags = exiftool(bytes)
  if (tags) {
    for (const group of Object.keys(tags)) assert.ok(!/^(GPS|IFD0|ExifIFD|XMP|MakerNotes|ICC)/.test(group), `${group} in what the server serves`)
  }
  // The phone keeps no copy once the server has it.
  const left = await again.evaluate(() => new Promise((resolve) => {
    const open = indexedDB.open('lagesbild')
    open.onsuccess = () => {
      const all = open.result.transaction('photos').objectStore('photos').getAll()
      all.onsuccess = () => resolve(all.result.map((photo) => ({ blob: photo.blob, uploaded: photo.uploaded })))
    }
  }))
  assert.deepEqual(left, [{ blob: null, uploaded: true }])
  assert.deepEqual(phone.errors, [], 'the app threw')
})
